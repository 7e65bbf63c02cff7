"""The socket object's data: sending and receiving, MicroPython's and CPython's ways (``send``,
``sendall``, ``sendto``, ``write``; ``recv``, ``recvfrom``, ``recv_into``, ``read``, ``readinto``,
``readline``) over one connection or one datagram service.

Part of :class:`atsock.socket` (its state, time-outs and modem); in a module of its own so that each
reads as one job. It derives from :class:`~atsock.surface.checked.SocketArguments` itself, so that its
methods' arguments are checked as CPython's are, as the socket's own are.
"""
import asyncio
import errno
from typing import Optional

from ..constants import MSG_PEEK
from ..core.lifecycle import SocketState as S
from ..errors import os_error
from . import arguments, inet
from .checked import SocketArguments


def read_into(read, buf, nbytes: Optional[int]) -> Optional[int]:
    """MicroPython's ``readinto`` over any ``read(n)``: the count put into ``buf``, or ``None`` where
    ``read`` had nothing yet (a non-blocking socket); shared by the plain and the TLS sockets."""
    limit = len(buf) if nbytes is None else min(nbytes, len(buf))
    data = read(limit)
    if data is None:
        return None
    buf[:len(data)] = data
    return len(data)


class Transfer(SocketArguments):
    """Sending and receiving."""

    # --- sending --------------------------------------------------------------------------------
    def send(self, data, flags: int = 0) -> int:
        """Hand ``data`` to the module (``AT+QISEND``, ``AT+CIPSEND``, in chunks) and return the count it
        took: fewer than given where it refused part-way (the error comes with the next call) or a
        non-blocking send had room for one chunk. ``MSG_DONTWAIT`` makes this call non-blocking."""
        timeout = self._call_timeout(flags)
        self._check_open()
        if self._udp:
            if self._peer is None:
                raise os_error(errno.EDESTADDRREQ, "UDP socket has no peer: connect() it or use sendto()")
            return self._send_datagram(data, self._peer, timeout)
        if not self._connect_settled(timeout):
            raise os_error(errno.EAGAIN, "connect still in progress")
        if self._state in (S.FRESH, S.OPENING, S.LISTENING):
            raise os_error(errno.ENOTCONN, "socket is not connected")
        if not data:
            return 0
        try:
            return self._modem.send(self._conn, data, timeout)
        except TimeoutError:
            if timeout == 0:
                raise os_error(errno.EAGAIN) from None
            raise

    def sendall(self, data, flags: int = 0) -> None:
        """Send all of ``data``, chunk after chunk, or raise; a UDP socket sends it as one datagram."""
        if self._udp:
            self.send(data, flags)
            return
        view = memoryview(data)
        while True:  # once at least: an empty sendall is refused where an empty send is
            sent = self.send(view, flags)
            view = view[sent:]
            if not view:
                return

    def sendto(self, data, flags, address) -> int:
        """``sendto(data[, flags], address)`` (the check puts the flags in place)."""
        host, port = address
        timeout = self._call_timeout(flags)
        self._check_open()
        if not self._udp:
            if self._state in (S.CONNECTED, S.PEER_CLOSED) or self._connecting is not None:
                return self.send(data, flags)  # CPython ignores the address of a connected stream
            raise os_error(errno.ENOTCONN, "socket is not connected")
        if port == 0:
            raise os_error(errno.EINVAL, "a datagram cannot be sent to port 0")
        return self._send_datagram(data, (self._resolve(host), port), timeout)

    def sendmsg(self, buffers, ancdata=(), flags: int = 0, address=None) -> int:
        """The buffers sent as one (CPython's asyncio transports write through ``sendmsg`` on 3.12+);
        ancillary data has no place on a modem."""
        if ancdata:
            raise os_error(errno.EOPNOTSUPP, "the modem carries no ancillary data")
        data = b"".join(arguments.data_bytes(buffer, "sendmsg") for buffer in buffers)
        return self.send(data, flags) if address is None else self.sendto(data, flags, address)

    def _send_datagram(self, data: bytes, dest, timeout) -> int:
        if len(data) > self._modem.max_datagram:
            raise os_error(errno.EMSGSIZE, f"a datagram carries at most {self._modem.max_datagram} bytes "
                                           "through this modem")
        self._open_udp(dest)
        if not data:
            return 0  # the modules cannot send an empty datagram
        try:
            return self._modem.send(self._conn, data, timeout, dest)
        except TimeoutError:
            if timeout == 0:
                raise os_error(errno.EAGAIN) from None
            raise

    def write(self, buf, off_or_len: Optional[int] = None, max_len: Optional[int] = None) -> int:
        """MicroPython stream ``write(buf)``, ``write(buf, max_len)``, ``write(buf, off, max_len)``."""
        view = memoryview(buf)
        if max_len is not None:
            view = view[off_or_len:][:max_len]
        elif off_or_len is not None:
            view = view[:off_or_len]
        if not self._udp and not self._connect_settled(self._timeout):
            return None
        self.sendall(view)
        return len(view)

    # --- receiving ------------------------------------------------------------------------------
    def recv(self, bufsize: int, flags: int = 0) -> bytes:
        """Up to ``bufsize`` bytes the peer sent, ``b""`` at end of stream; a UDP socket's next datagram
        (the rest of a longer one is dropped). ``MSG_PEEK`` leaves them in the socket, ``MSG_DONTWAIT``
        makes this call non-blocking."""
        timeout = self._call_timeout(flags)
        if bufsize == 0:
            return b""  # as in CPython: nothing asked, nothing waited for, in any state
        if self._udp:
            return self._recv_datagram(bufsize, flags, timeout)[0]
        self._check_open()
        if not self._connect_settled(timeout):
            raise os_error(errno.EAGAIN, "connect still in progress")
        return self._modem.receive(self._conn, bufsize, timeout, peek=bool(flags & MSG_PEEK))

    def recvfrom(self, bufsize: int, flags: int = 0):
        """``(data, address)``: :meth:`recv` with the sender's address (a TCP socket's peer)."""
        timeout = self._call_timeout(flags)
        if not self._udp:
            self._check_open()
            if not self._connect_settled(timeout):
                raise os_error(errno.EAGAIN, "connect still in progress")
            # recvfrom(0) waits for data as CPython's does, and takes none of it
            data = self._modem.receive(self._conn, bufsize or 1, timeout, peek=bool(flags & MSG_PEEK) or not bufsize)
            return data[:bufsize], inet.sockaddr(self._conn.remote, self.family)
        return self._recv_datagram(bufsize, flags, timeout)

    def _recv_datagram(self, bufsize: int, flags: int, timeout):
        self._check_open()
        self._open_udp()
        data, sender = self._modem.receive_datagram(self._conn, timeout, bool(flags & MSG_PEEK), self._peer)
        # like BSD sockets, the rest of a longer datagram is dropped
        return data[:bufsize], inet.sockaddr(sender, self.family)

    def recv_into(self, buffer, nbytes: int = 0, flags: int = 0) -> int:
        """As :meth:`recv`, into ``buffer`` (at most ``nbytes`` bytes, 0: its length); returns the count."""
        data = self.recv(nbytes, flags)
        buffer[:len(data)] = data
        return len(data)

    def recvfrom_into(self, buffer, nbytes: int = 0, flags: int = 0):
        """As :meth:`recvfrom`, into ``buffer``; returns ``(count, address)``."""
        data, sender = self.recvfrom(nbytes, flags)
        buffer[:len(data)] = data
        return len(data), sender

    def read(self, size: Optional[int] = -1) -> Optional[bytes]:
        """``read()`` to end of stream; ``read(n)`` exactly n bytes unless the stream ends first."""
        limit = size  # (None: to the end of the stream)
        if self._udp:
            return self.recv(1500 if limit is None else limit)
        self._check_open()
        if not self._connect_settled(self._timeout):
            return None
        return self._modem.gather(self._conn, limit, None, self._timeout)

    def readinto(self, buf, nbytes: Optional[int] = None) -> Optional[int]:
        """MicroPython's ``readinto(buf[, nbytes])``: :meth:`read` into ``buf``; returns the count, or
        ``None`` where a non-blocking socket has nothing yet."""
        return read_into(self.read, buf, nbytes)

    def readline(self) -> Optional[bytes]:
        """The bytes up to and including the next ``b"\n"`` (or to the end of the stream); ``None`` where a
        non-blocking socket's connect is still under way."""
        self._check_open()
        if not self._udp and not self._connect_settled(self._timeout):
            return None
        return self._modem.gather(self._conn, None, b"\n", self._timeout)
