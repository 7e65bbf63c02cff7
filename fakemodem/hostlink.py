"""Real host sockets behind emulated module sockets: TCP connections and UDP endpoints.

The module's receive buffer is bounded: above ``rx_limit`` unread bytes the host socket stops being
read, so the peer's TCP window closes exactly as it would against a real module whose buffer is
full; the kernel's buffer in front of it is held to the same size, though no smaller than 64 KiB
(no autotuning to megabytes on loopback, as a module's stack advertises no more window than it has
room for; a window of ESP-AT's 5760 bytes would throttle the emulated line itself on a busy
machine). Writes beyond ``tx_limit`` queued bytes are refused, which the module reports as SEND FAIL.
"""
import asyncio
import fcntl
import socket
import struct
import termios
from collections import deque
from typing import Callable, Deque, Optional, Tuple


KERNEL_BUFFER_MIN = 65536


class TcpBridge(asyncio.Protocol):
    def __init__(self, on_data: Callable[[], None], on_closed: Callable[[], None],
                 rx_limit: int = 65536, tx_limit: int = 65536):
        self._on_data = on_data
        self._on_closed = on_closed
        self.rx_limit = rx_limit
        self.tx_limit = tx_limit
        self.rx = bytearray()
        self.total_received = 0
        self.total_read = 0
        self.total_sent = 0
        self.transport: Optional[asyncio.Transport] = None
        self.closed = False
        self._paused = False
        self.held = False  # reading stopped by the module (its UART is behind), not by a full buffer
        self.on_made: Optional[Callable[[], None]] = None
        self.keepalive: Optional[Tuple[int, int, int]] = None  # idle s, interval s, probes

    def connection_made(self, transport) -> None:
        self.transport = transport
        sock = transport.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, max(self.rx_limit, KERNEL_BUFFER_MIN))
        if self.keepalive is not None:
            self._apply_keepalive(transport.get_extra_info("socket"), *self.keepalive)
        if self.on_made is not None:
            self.on_made()

    @staticmethod
    def _apply_keepalive(sock, idle: int, interval: int, probes: int) -> None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        for option, value in (("TCP_KEEPIDLE", idle), ("TCP_KEEPINTVL", interval), ("TCP_KEEPCNT", probes)):
            if hasattr(socket, option):
                sock.setsockopt(socket.IPPROTO_TCP, getattr(socket, option), value)

    @property
    def peer(self) -> Tuple[str, int]:
        return self.transport.get_extra_info("peername")[:2]

    def data_received(self, data: bytes) -> None:
        self.rx += data
        self.total_received += len(data)
        if len(self.rx) >= self.rx_limit:
            self._set_paused(True)
        self._on_data()

    def _set_paused(self, paused: bool) -> None:
        if paused != self._paused and self.transport is not None and not self.closed:
            self._paused = paused
            if paused:
                self.transport.pause_reading()
            else:
                self.transport.resume_reading()

    def hold(self) -> None:
        """Stop reading the host socket until :meth:`release` (the peer's window closes)."""
        self.held = True
        self._set_paused(True)

    def release(self) -> None:
        self.held = False
        if len(self.rx) < self.rx_limit // 2:
            self._set_paused(False)

    def eof_received(self):
        return False  # let the transport close; the module reports "closed"

    def connection_lost(self, exc) -> None:
        if not self.closed:
            self.closed = True
            self._on_closed()

    @property
    def local_port(self) -> int:
        sockname = self.transport.get_extra_info("sockname") if self.transport else None
        return sockname[1] if sockname else 0

    def read(self, limit: int) -> bytes:
        data = bytes(self.rx[:limit])
        del self.rx[:limit]
        self.total_read += len(data)
        if len(self.rx) < self.rx_limit // 2 and not self.held:
            self._set_paused(False)
        return data

    def can_send(self, count: int) -> bool:
        """A module's send buffer takes data while it is not full."""
        return self.transport.get_write_buffer_size() < self.tx_limit

    def send(self, data: bytes) -> None:
        self.transport.write(data)
        self.total_sent += len(data)

    @property
    def unacked(self) -> int:
        return self.transport.get_write_buffer_size() if self.transport else 0

    def untaken(self) -> int:
        """Bytes sent that the peer has not taken: the transport's and the kernel's send queue (the
        host's buffers are far larger than a module's, so they count as the module's)."""
        if self.transport is None:
            return 0
        try:
            queued = struct.unpack("i", fcntl.ioctl(self.transport.get_extra_info("socket").fileno(),
                                                    termios.TIOCOUTQ, b"\0\0\0\0"))[0]
        except (OSError, AttributeError):
            queued = 0
        return self.unacked + queued

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()


class UdpBridge(asyncio.DatagramProtocol):
    """A host UDP socket: datagrams queue up to ``rx_limit`` bytes, beyond that they are dropped
    as a module with a full buffer drops them."""

    def __init__(self, on_data: Callable[[], None], rx_limit: int = 65536):
        self._on_data = on_data
        self.rx_limit = rx_limit
        self.datagrams: Deque[Tuple[bytes, Tuple[str, int]]] = deque()
        self.queued = 0
        self.dropped = 0
        self.total_received = 0
        self.total_read = 0
        self.total_sent = 0
        self.transport: Optional[asyncio.DatagramTransport] = None
        self.closed = False

    def connection_made(self, transport) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr) -> None:
        if self.queued + len(data) > self.rx_limit:
            self.dropped += 1
            return
        self.datagrams.append((data, addr[:2]))
        self.queued += len(data)
        self.total_received += len(data)
        self._on_data()

    def read(self):
        data, sender = self.datagrams.popleft()
        self.queued -= len(data)
        self.total_read += len(data)
        return data, sender

    @property
    def rx(self) -> bytes:  # for the recv notice's optional length
        return self.datagrams[0][0] if self.datagrams else b""

    @property
    def local_port(self) -> int:
        return self.transport.get_extra_info("sockname")[1] if self.transport else 0

    def send(self, data: bytes, address: Optional[Tuple[str, int]] = None) -> None:
        self.transport.sendto(data, address)
        self.total_sent += len(data)

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()


UART_BACKLOG = 8192  # bytes of unasked output (pushed data) a module lets queue before it stops reading


def pace_to_line(bridge, serial) -> None:
    """Data pushed to the host unasked must not outrun the UART: while more than UART_BACKLOG
    bytes wait for the line, the host socket is not read (its peer sees the window close)."""
    if not isinstance(bridge, TcpBridge) or bridge.closed or bridge.held or serial.backlog <= UART_BACKLOG:
        return
    bridge.hold()
    loop = asyncio.get_running_loop()

    def check():
        if bridge.closed:
            return
        if serial.backlog > UART_BACKLOG // 4:
            loop.call_later(0.005, check)
        else:
            bridge.release()

    loop.call_later(0.005, check)


def takes_more(bridge) -> bool:
    """Whether a link in data mode takes more of the host's bytes now (a closed one swallows them)."""
    return not isinstance(bridge, TcpBridge) or bridge.closed or bridge.can_send(1)


def hand_over(bridge, data: bytes, destination, reachable) -> str:
    """Give a send's payload to the host socket; the result line a module prints for it.

    Datagrams to addresses that do not answer vanish (UDP does not tell); a TCP send buffer that
    is full refuses with SEND FAIL."""
    if isinstance(bridge, UdpBridge):
        if destination is None or reachable(destination[0]):
            bridge.send(data, destination)
        return "SEND OK"
    if not bridge.can_send(len(data)):
        return "SEND FAIL"
    bridge.send(data)
    return "SEND OK"


class RefuseConnection(asyncio.Protocol):
    """What a client gets from a module with no socket free for it: a closed connection."""

    def connection_made(self, transport) -> None:
        transport.close()
