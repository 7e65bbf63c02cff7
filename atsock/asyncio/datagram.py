"""UDP on the modem the way CPython's loop does it: ``create_datagram_endpoint(protocol_factory,
local_addr=None, remote_addr=None)`` gives ``(transport, protocol)``.

The protocol gets ``datagram_received(data, addr)`` for each datagram (from ``remote_addr`` only,
when one is given) and ``error_received(exc)`` for a datagram the modem could not send; sends go
out in order, one at a time, names in addresses looked up by the modem. The modules cannot send an
empty datagram: ``sendto(b"")`` sends nothing.
"""
import asyncio
import errno
import socket
from collections import deque
from typing import Callable, Deque, Optional, Tuple

from ..constants import AF_INET, SOCK_DGRAM
from ..core import validate
from ..core.connection import Connection, Kind
from ..errors import os_error
from ..surface import inet, receiving, usock
from . import bridge, connections
from .pump import ReadPump
from .transport import as_bytes

Address = Tuple[str, int]


class DatagramTransport(asyncio.DatagramTransport):
    def __init__(self, loop: asyncio.AbstractEventLoop, modem, conn: Connection, sock,
                 protocol: asyncio.DatagramProtocol, peer: Optional[Address]):
        super().__init__({"socket": sock, "sockname": sock.getsockname(), "peername": peer})
        self._loop = loop
        self._modem = modem
        self._conn = conn
        self._sock = sock
        self._protocol = protocol
        self._peer = peer
        self._queue: Deque[Tuple[bytes, Address]] = deque()
        self._queued = 0
        self._sender: Optional[asyncio.Task] = None
        self._closing = False
        self._lost = False
        self._pump = ReadPump(modem, lambda: receiving.datagram(modem.core, conn, None, False, peer), self._arrived,
                              size=lambda datagram: len(datagram[0]))
        loop.call_soon(protocol.connection_made, self)
        loop.call_soon(self._pump.start)

    # --- receiving ------------------------------------------------------------------------------
    def _arrived(self, datagram, error: Optional[BaseException]) -> None:
        self._pump.taken(datagram)
        if self._lost:
            return
        if error is not None:
            if not self._closing:
                self._shut(error)
            return
        self._protocol.datagram_received(*datagram)

    # --- sending --------------------------------------------------------------------------------
    def sendto(self, data, addr=None) -> None:
        """Queue one datagram. The address is checked at once, as CPython's transport checks it
        when it sends: a port or shape no socket takes is a fatal error (the loop's exception
        handler, then ``connection_lost``), an address the network refuses goes to
        ``error_received`` and the transport carries on."""
        data = as_bytes(data)
        if self._peer is not None:
            if addr not in (None, self._peer):
                raise ValueError(f"Invalid address: must be None or {self._peer}")
            addr = self._peer
        if self._closing or self._lost:
            return
        try:
            addr = inet.destination(addr, AF_INET, "sendto")
        except OSError as exc:
            self._loop.call_soon(self._protocol.error_received, exc)
            return
        except ValueError as exc:  # no host name at all: what a resolver says of it
            self._loop.call_soon(self._protocol.error_received, socket.gaierror(socket.EAI_NONAME, str(exc)))
            return
        except Exception as exc:  # (TypeError, OverflowError)
            self._fatal(exc)
            return
        if not data:
            return
        self._queue.append((data, addr))
        self._queued += len(data)
        if self._sender is None:
            self._sender = self._loop.create_task(self._send_queued())

    async def _send_queued(self) -> None:
        try:
            while self._queue and not self._lost:
                data, (host, port) = self._queue[0]
                try:
                    if len(data) > self._modem.max_datagram:
                        raise os_error(errno.EMSGSIZE, f"a datagram carries at most {self._modem.max_datagram} "
                                                       "bytes through this modem")
                    ip = await bridge.resolve(self._modem, host)
                    await bridge.send(self._modem, self._conn, data, (ip, port))
                except (OSError, ValueError) as exc:
                    if self._conn.error is not None:  # the socket itself failed
                        self._shut(self._conn.error)
                        return
                    self._protocol.error_received(exc)
                except Exception as exc:  # nothing may end this task unseen: later datagrams would wait forever
                    self._fatal(exc)
                    return
                finally:
                    if self._queue:
                        self._queue.popleft()
                        self._queued -= len(data)
        finally:
            self._sender = None
            if self._closing and not self._queue:
                self._shut(None)

    def get_write_buffer_size(self) -> int:
        return self._queued

    # --- closing --------------------------------------------------------------------------------
    def is_closing(self) -> bool:
        return self._closing or self._lost

    def close(self) -> None:
        """Send what is queued, then close the socket."""
        if self._closing or self._lost:
            return
        self._closing = True
        if self._sender is None:
            self._shut(None)

    def abort(self) -> None:
        self._closing = True
        self._queue.clear()
        self._queued = 0
        self._shut(None)

    def _fatal(self, error: Exception) -> None:
        """As CPython's transport meets an error that is no network's: the loop's exception handler
        hears of it, what is queued is dropped, and the protocol gets ``connection_lost(error)``."""
        self._loop.call_exception_handler({"message": "Fatal write error on datagram transport", "exception": error,
                                           "transport": self, "protocol": self._protocol})
        self._queue.clear()
        self._queued = 0
        self._shut(error)

    def _shut(self, error: Optional[BaseException]) -> None:
        if self._lost:
            return
        self._lost = True
        self._closing = True
        self._conn.notifier.close()
        bridge.close_then(self._modem, self._conn, lambda: self._protocol.connection_lost(error))

    def set_protocol(self, protocol) -> None:
        self._protocol = protocol

    def get_protocol(self):
        return self._protocol

    def __repr__(self) -> str:
        return f"<atsock DatagramTransport {self._conn!r}>"


async def create_datagram_endpoint(protocol_factory: Callable[[], asyncio.DatagramProtocol], local_addr=None,
                                   remote_addr=None, *, modem=None):
    """A UDP socket on the modem as ``(transport, protocol)``: bound to ``local_addr`` (the modem's
    address; port 0 or none: one the modem picks), talking to ``remote_addr`` only if given."""
    modem = connections.modem_of(modem)
    host, port = local_addr if local_addr is not None else (None, 0)
    local_port = bridge.local_port(modem, host, port)
    peer = None
    if remote_addr is not None:
        remote_host, remote_port = remote_addr
        peer = (await bridge.resolve(modem, remote_host), validate.port_number(remote_port))
    conn = Connection(Kind.UDP)
    sock = usock.socket(AF_INET, SOCK_DGRAM, modem=modem, _conn=conn)
    await bridge.bind_udp(modem, conn, local_port, peer)
    try:
        protocol = protocol_factory()
    except BaseException:
        modem.close_later(conn)
        raise
    return DatagramTransport(asyncio.get_running_loop(), modem, conn, sock, protocol, peer), protocol
