"""The usocket ``socket`` object and ``getaddrinfo``, over a modem's AT sockets.

Every call crosses into the engine's loop (``Modem.run``) and waits there, so the received bytes,
the link's state and the modem's commands are only ever touched by one thread.

Blocking rules follow MicroPython: ``settimeout(None)`` blocks, ``settimeout(t)`` raises
``OSError(ETIMEDOUT)`` (a ``TimeoutError``) after ``t`` seconds, ``settimeout(0)`` never waits.
On a blocking socket ``read(n)`` and ``readinto`` return short only at end of stream. A call that
times out leaves every byte it had gathered in the socket for the next call.
"""
import asyncio
import errno
from typing import Optional

from .constants import AF_INET, IPPROTO_TCP, IPPROTO_UDP, SOCK_DGRAM, SOCK_STREAM
from .errors import os_error, timeout_error
from .link import Link
from .modem import Modem, current_modem
from . import validate

_READ_CHUNK = 16 * 1024


def _address(address):
    if not isinstance(address, (tuple, list)) or len(address) < 2:
        raise os_error(errno.EINVAL, f"address must be a (host, port) tuple, not {address!r}")
    host, port = address[0], address[1]
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    return host, validate.port_number(port)


def _resolve_ip(modem: Modem, host: str) -> str:
    literal = validate.ip_literal(host) if isinstance(host, str) else None
    if literal is not None:
        return literal
    modem.require_online()
    return modem.run(modem.dialect.resolve(host))[0]


def resolve_addrinfo(modem: Modem, host, port, af=0, type=0, proto=0, flags=0):
    if isinstance(port, str) and port.isdigit():
        port = int(port)
    port = validate.port_number(port)
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    literal = validate.ip_literal(host)
    if literal is not None:
        addresses = [literal]
    else:
        validate.hostname(host)
        modem.require_online()
        addresses = modem.run(modem.dialect.resolve(host))
    socktype = type or SOCK_STREAM
    protocol = proto or (IPPROTO_UDP if socktype == SOCK_DGRAM else IPPROTO_TCP)
    return [(AF_INET, socktype, protocol, "", (ip, port)) for ip in addresses if ":" not in ip]


def getaddrinfo(host, port, af=0, type=0, proto=0, flags=0):
    """``getaddrinfo`` through the most recently opened modem."""
    return resolve_addrinfo(current_modem(), host, port, af, type, proto, flags)


class socket:
    def __init__(self, af: int = AF_INET, type: int = SOCK_STREAM, proto: int = 0, *,
                 modem: Optional[Modem] = None):
        if af != AF_INET:
            raise os_error(errno.EAFNOSUPPORT, "the modem's stack is used over IPv4 (AF_INET)")
        if type != SOCK_STREAM:
            raise os_error(errno.EPROTONOSUPPORT, f"socket type {type} is not supported")
        self._modem = modem or current_modem()
        self._link = Link("tcp")
        self._timeout: Optional[float] = None
        self.family, self.type, self.proto = af, type, proto or IPPROTO_TCP

    # --- state checks ---------------------------------------------------------------------------
    def _check_open(self) -> None:
        if self._link.state == "closed":
            raise os_error(errno.EBADF, "socket is closed")

    def _check_stream(self) -> None:
        """Data calls need a socket that has been connected (and may since have lost the peer)."""
        self._check_open()
        if self._link.state in ("fresh", "connecting"):
            raise os_error(errno.ENOTCONN, "socket is not connected")

    # --- timeouts -------------------------------------------------------------------------------
    def settimeout(self, value: Optional[float]) -> None:
        if value is not None and value < 0:
            raise ValueError("timeout must be None or >= 0")
        self._timeout = None if value is None else float(value)

    def gettimeout(self) -> Optional[float]:
        return self._timeout

    def setblocking(self, flag: bool) -> None:
        self._timeout = None if flag else 0.0

    async def _wait(self, awaitable) -> None:
        """Wait under the socket's timeout; on a non-blocking socket, EAGAIN instead of waiting."""
        if self._timeout == 0:
            awaitable.close()
            raise os_error(errno.EAGAIN)
        try:
            await asyncio.wait_for(awaitable, self._timeout)
        except asyncio.TimeoutError:
            raise timeout_error() from None

    # --- connecting -----------------------------------------------------------------------------
    def connect(self, address) -> None:
        self._check_open()
        state = self._link.state
        if state != "fresh":
            raise os_error(errno.EISCONN if state != "connecting" else errno.EALREADY)
        host, port = _address(address)
        ip = _resolve_ip(self._modem, host)
        self._modem.require_online()
        self._modem.run(self._modem.dialect.connect(self._link, ip, port, self._timeout))

    # --- sending --------------------------------------------------------------------------------
    def send(self, data) -> int:
        self._check_stream()
        if isinstance(data, str):
            data = data.encode()
        data = bytes(data)
        if not data:
            return 0
        link = self._link
        if link.error is not None:
            raise link.error
        try:
            return self._modem.run(self._modem.dialect.send(link, data, self._timeout))
        except TimeoutError:
            if self._timeout == 0:
                raise os_error(errno.EAGAIN) from None
            raise

    def sendall(self, data) -> None:
        view = memoryview(data.encode() if isinstance(data, str) else data).cast("B")
        while view:
            sent = self.send(view)
            view = view[sent:]

    def write(self, buf, off_or_len: Optional[int] = None, max_len: Optional[int] = None) -> int:
        """MicroPython stream ``write(buf)``, ``write(buf, max_len)``, ``write(buf, off, max_len)``."""
        view = memoryview(buf.encode() if isinstance(buf, str) else buf).cast("B")
        if max_len is not None:
            view = view[off_or_len:off_or_len + max_len]
        elif off_or_len is not None:
            view = view[:off_or_len]
        self.sendall(view)
        return len(view)

    # --- receiving ------------------------------------------------------------------------------
    def recv(self, bufsize: int) -> bytes:
        self._check_stream()
        return self._modem.run(self._recv(bufsize))

    async def _recv(self, bufsize: int) -> bytes:
        link = self._link
        if not link.readable:
            await self._wait(link.wait_readable())
        return link.take(bufsize)

    def read(self, size: Optional[int] = -1) -> Optional[bytes]:
        """``read()`` to end of stream; ``read(n)`` exactly n bytes unless the stream ends first."""
        self._check_stream()
        limit = None if size is None or size < 0 else size
        return self._modem.run(self._gather(limit, None))

    def readinto(self, buf, nbytes: Optional[int] = None) -> Optional[int]:
        self._check_stream()
        view = memoryview(buf).cast("B")
        limit = len(view) if nbytes is None else min(nbytes, len(view))
        data = self._modem.run(self._gather(limit, None))
        if data is None:
            return None
        view[:len(data)] = data
        return len(data)

    def readline(self) -> Optional[bytes]:
        self._check_stream()
        return self._modem.run(self._gather(None, b"\n"))

    async def _gather(self, limit: Optional[int], until: Optional[bytes]) -> Optional[bytes]:
        """Collect up to ``limit`` bytes (None: to EOF) or through ``until``; a non-blocking
        socket returns what is there (None if nothing). On timeout the bytes go back unread."""
        link = self._link
        got = bytearray()
        try:
            while limit is None or len(got) < limit:
                if not link.readable:
                    if self._timeout == 0:
                        break
                    await self._wait(link.wait_readable())
                want = _READ_CHUNK if limit is None else limit - len(got)
                if until is not None:
                    cut = link.rx.find(until)
                    if cut >= 0:
                        want = min(want, cut + len(until))
                chunk = link.take(want)
                if not chunk:
                    break  # end of stream
                got += chunk
                if until is not None and got.endswith(until):
                    break
        except BaseException:
            if got:
                link.rx[0:0] = got  # nothing gathered is lost
            raise
        if self._timeout == 0 and not got and not link.eof:
            return None
        return bytes(got)

    # --- the rest of the usocket surface --------------------------------------------------------
    def makefile(self, mode: str = "rb", buffering: int = 0, **_ignored) -> "socket":
        """MicroPython returns the socket itself: it already has read/readline/write."""
        return self

    def close(self) -> None:
        link = self._link
        if link.state == "closed":
            return
        try:
            self._modem.run(self._modem.dialect.close_link(link))
        except OSError:
            link.release()  # the modem is gone; the socket is closed all the same

    def __del__(self) -> None:
        # A socket dropped without close() would hold one of the modem's few connectIDs forever.
        link = getattr(self, "_link", None)
        if link is not None and link.id is not None and link.state != "closed":
            self._modem.close_later(link)

    def __enter__(self) -> "socket":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def getpeername(self):
        self._check_stream()
        return self._link.remote

    def __repr__(self) -> str:
        return f"<atsock.socket id={self._link.id} state={self._link.state}>"
