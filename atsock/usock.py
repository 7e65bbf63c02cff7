"""The usocket ``socket`` object over a modem's AT sockets: TCP clients and servers, UDP.

Every call crosses into the engine's loop (``Modem.run``) and waits there, so received data, the
link's state and the modem's commands are only ever touched by one thread.

Blocking rules follow MicroPython: ``settimeout(None)`` blocks; ``settimeout(t)`` raises
``OSError(ETIMEDOUT)`` (a ``TimeoutError``) after ``t`` seconds; ``settimeout(0)`` never waits:
``recv``/``accept``/``send`` raise ``EAGAIN``, ``connect`` raises ``EINPROGRESS`` and completes in
the background (watch it with ``poll``), ``read``/``readinto``/``readline`` return ``None``. On a
blocking socket ``read(n)`` and ``readinto`` return short only at end of stream; a call that times
out leaves every byte it had gathered in the socket for the next call.
"""
import asyncio
import errno
import logging
import random
from typing import Optional, Tuple

from .addrinfo import resolve_addrinfo
from .constants import (AF_INET, IPPROTO_TCP, IPPROTO_UDP, SO_ERROR, SO_KEEPALIVE, SO_REUSEADDR, SO_TYPE,
                        SOCK_DGRAM, SOCK_STREAM, SOL_SOCKET, TCP_KEEPALIVE)
from .errors import os_error, timeout_error
from .link import Link
from .modem import Modem, current_modem
from .readiness import ReadySignal
from . import validate

log = logging.getLogger("atsock.socket")

_READ_CHUNK = 16 * 1024
_EPHEMERAL = (49152, 65535)
_DEFAULT_KEEPALIVE_MINUTES = 2


def _address(address) -> Tuple[str, int]:
    if not isinstance(address, (tuple, list)) or len(address) < 2:
        raise os_error(errno.EINVAL, f"address must be a (host, port) tuple, not {address!r}")
    host, port = address[0], address[1]
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    return host, validate.port_number(port)


def getaddrinfo(host, port, af=0, type=0, proto=0, flags=0):
    """``getaddrinfo`` through the most recently opened modem."""
    return resolve_addrinfo(current_modem(), host, port, af, type, proto, flags)


class socket:
    def __init__(self, af: int = AF_INET, type: int = SOCK_STREAM, proto: int = 0, *,
                 modem: Optional[Modem] = None, _link: Optional[Link] = None):
        if af != AF_INET:
            raise os_error(errno.EAFNOSUPPORT, "the modem's stack is used over IPv4 (AF_INET)")
        expected = {SOCK_STREAM: IPPROTO_TCP, SOCK_DGRAM: IPPROTO_UDP}.get(type)
        if expected is None:
            raise os_error(errno.EPROTONOSUPPORT, f"socket type {type} is not supported by the modem")
        if proto not in (0, expected):
            raise os_error(errno.EPROTONOSUPPORT, f"protocol {proto} does not go with socket type {type}")
        self._modem = modem or current_modem()
        self._link = _link or Link("udp" if type == SOCK_DGRAM else "tcp")
        self._timeout: Optional[float] = None
        self._local_port: Optional[int] = None
        self._peer: Optional[Tuple[str, int]] = None  # UDP: the peer fixed by connect()
        self._connecting: Optional[asyncio.Future] = None  # a non-blocking connect in progress
        self._options = {}
        self.family, self.type, self.proto = af, type, proto or expected

    @classmethod
    def _accepted(cls, modem: Modem, link: Link) -> "socket":
        return cls(AF_INET, SOCK_STREAM, 0, modem=modem, _link=link)

    @property
    def _udp(self) -> bool:
        return self.type == SOCK_DGRAM

    # --- state checks ---------------------------------------------------------------------------
    def _check_open(self) -> None:
        if self._link.state == "closed":
            raise os_error(errno.EBADF, "socket is closed")

    def _check_stream(self) -> None:
        """Data calls on TCP need a socket that was connected (and may since have lost its peer)."""
        self._check_open()
        if self._link.state in ("fresh", "connecting", "listening"):
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
        if self._timeout is None:
            await awaitable  # no timer, no extra task
            return
        try:
            await asyncio.wait_for(awaitable, self._timeout)
        except asyncio.TimeoutError:
            raise timeout_error() from None

    # --- addresses ------------------------------------------------------------------------------
    def _resolve(self, host: str) -> str:
        literal = validate.ip_literal(host) if isinstance(host, str) else None
        if literal is not None:
            return literal
        self._modem.require_online()
        return self._modem.run(self._modem.dialect.resolve(host))[0]

    def bind(self, address) -> None:
        self._check_open()
        host, port = _address(address)
        if self._local_port is not None or self._link.state != "fresh":
            raise os_error(errno.EINVAL, "socket is already bound")
        if host not in ("", "0.0.0.0", "127.0.0.1", "localhost", self._modem.local_ip):
            raise os_error(errno.EADDRNOTAVAIL, f"{host!r} is not an address of the modem")
        self._local_port = port
        if self._udp:
            self._open_udp()

    def _pick_port(self) -> int:
        in_use = {link.local_port for link in list(self._modem.engine.links.values())}
        while True:
            port = random.randint(*_EPHEMERAL)
            if port not in in_use:
                return port

    def _open_with_port(self, opener) -> None:
        """Open with the bound port, or with ephemeral ones until the modem finds one free."""
        chosen = self._local_port
        for _ in range(1 if chosen else 5):
            port = chosen or self._pick_port()
            try:
                self._modem.run(opener(port))
                self._local_port = port
                return
            except OSError as exc:
                if chosen or exc.args[0] != errno.EADDRINUSE:
                    raise
        raise os_error(errno.EADDRINUSE, "the modem found no free local port")

    def _open_udp(self, peer=None) -> None:
        if self._link.state == "fresh":
            self._modem.require_online()
            self._open_with_port(lambda port: self._modem.dialect.open_udp(self._link, port, peer))

    def getsockname(self):
        self._check_open()
        return (self._modem.local_ip or "0.0.0.0", self._local_port or 0)

    def getpeername(self):
        self._check_open()
        peer = self._peer if self._udp else self._link.remote
        if peer is None or (not self._udp and self._link.state in ("fresh", "connecting", "listening")):
            raise os_error(errno.ENOTCONN)
        return peer

    # --- connecting -----------------------------------------------------------------------------
    def connect(self, address) -> None:
        self._check_open()
        host, port = _address(address)
        if self._udp:
            self._peer = (self._resolve(host), port)
            self._open_udp(self._peer)
            return
        self._check_connect_allowed()
        ip = self._resolve(host)
        self._modem.require_online()
        self._link.keepalive = self._options.get("keepalive")
        local_port = self._local_port or 0
        if self._timeout == 0:
            self._connecting = self._modem.run(self._start_connect(ip, port, local_port))
            raise os_error(errno.EINPROGRESS)
        self._modem.run(self._modem.dialect.connect(self._link, ip, port, self._timeout, local_port))

    def _check_connect_allowed(self) -> None:
        pending = self._connecting
        if pending is not None:
            if not pending.done():
                raise os_error(errno.EALREADY, "connect already in progress")
            self._connecting = None
            error, self._link.connect_error = self._link.connect_error, None
            if error is not None:
                raise error
        state = self._link.state
        if state == "listening":
            raise os_error(errno.EINVAL, "a listening socket cannot connect")
        if state != "fresh":
            raise os_error(errno.EISCONN)

    async def _start_connect(self, ip: str, port: int, local_port: int) -> asyncio.Future:
        link = self._link

        async def connect_in_background() -> None:
            try:
                await self._modem.dialect.connect(link, ip, port, None, local_port)
            except BaseException as exc:
                link.connect_error = exc  # recorded before the task counts as done: poll sees both at once
                raise

        task = asyncio.ensure_future(connect_in_background())
        task.add_done_callback(lambda done: (done.cancelled() or done.exception(), link.changed()))
        return task

    # --- servers --------------------------------------------------------------------------------
    def listen(self, backlog: Optional[int] = None) -> None:
        self._check_open()
        if self._udp:
            raise os_error(errno.EOPNOTSUPP, "UDP sockets do not listen")
        if self._link.state == "listening":
            return
        if self._link.state != "fresh":
            raise os_error(errno.EINVAL, "only a fresh socket can listen")
        self._modem.require_online()
        depth = 2 if backlog is None else max(1, min(int(backlog), self._modem.dialect.max_links - 1))
        self._link.keepalive = self._options.get("keepalive")
        self._open_with_port(lambda port: self._modem.dialect.listen(self._link, port, depth))

    def accept(self):
        self._check_open()
        if self._link.state != "listening":
            raise os_error(errno.EINVAL, "socket is not listening")
        link = self._modem.run(self._take_incoming())
        return type(self)._accepted(self._modem, link), link.remote

    async def _take_incoming(self) -> Link:
        link = self._link
        if not link.readable:
            await self._wait(link.wait_readable())
        if link.incoming:
            accepted = link.incoming.popleft()
            link.changed()
            return accepted
        raise link.error or os_error(errno.EAGAIN)

    # --- sending --------------------------------------------------------------------------------
    def send(self, data) -> int:
        data = bytes(data.encode() if isinstance(data, str) else data)
        if self._udp:
            if self._peer is None:
                raise os_error(errno.ENOTCONN, "UDP socket has no peer: connect() it or use sendto()")
            return self.sendto(data, self._peer)
        self._check_stream()
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
        if self._udp:
            self.send(view)
            return
        while view:
            sent = self.send(view)
            view = view[sent:]

    def sendto(self, data, address) -> int:
        self._check_open()
        if not self._udp:
            raise os_error(errno.EISCONN if self._link.state == "connected" else errno.ENOTCONN,
                           "sendto is for UDP sockets")
        data = bytes(data.encode() if isinstance(data, str) else data)
        host, port = _address(address)
        ip = self._resolve(host)
        self._open_udp((ip, port))
        try:
            return self._modem.run(self._modem.dialect.sendto(self._link, data, ip, port, self._timeout))
        except TimeoutError:
            if self._timeout == 0:
                raise os_error(errno.EAGAIN) from None
            raise

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
        if self._udp:
            return self.recvfrom(bufsize)[0]
        self._check_stream()
        return self._modem.run(self._recv(bufsize))

    async def _recv(self, bufsize: int) -> bytes:
        link = self._link
        if not link.readable:
            await self._wait(link.wait_readable())
        return link.take(bufsize)

    def recvfrom(self, bufsize: int):
        self._check_open()
        if not self._udp:
            return self.recv(bufsize), self.getpeername()
        self._open_udp()
        data, sender = self._modem.run(self._recv_datagram())
        return data[:bufsize], sender  # like BSD sockets, the rest of a longer datagram is dropped

    async def _recv_datagram(self):
        link = self._link
        while True:
            if not link.readable:
                await self._wait(link.wait_readable())
            data, sender = link.take_datagram()
            if self._peer is None or sender == self._peer:
                return data, sender
            log.debug("datagram from %s dropped: socket is connected to %s", sender, self._peer)

    def read(self, size: Optional[int] = -1) -> Optional[bytes]:
        """``read()`` to end of stream; ``read(n)`` exactly n bytes unless the stream ends first."""
        if self._udp:
            return self.recv(1500 if size is None or size < 0 else size)
        self._check_stream()
        limit = None if size is None or size < 0 else size
        return self._modem.run(self._gather(limit, None))

    def readinto(self, buf, nbytes: Optional[int] = None) -> Optional[int]:
        view = memoryview(buf).cast("B")
        limit = len(view) if nbytes is None else min(nbytes, len(view))
        data = self.read(limit)
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
            link.unread(bytes(got))  # nothing gathered is lost
            raise
        if self._timeout == 0 and not got and not link.eof:
            return None
        return bytes(got)

    # --- options --------------------------------------------------------------------------------
    def setsockopt(self, level: int, option: int, value) -> None:
        self._check_open()
        if level == SOL_SOCKET and option == SO_REUSEADDR:
            self._options["reuseaddr"] = bool(value)  # the modem binds its own ports; nothing to send
        elif level == SOL_SOCKET and option == SO_KEEPALIVE and not self._udp:
            self._options["keepalive"] = _DEFAULT_KEEPALIVE_MINUTES if value else 0
        elif level in (SOL_SOCKET, IPPROTO_TCP) and option == TCP_KEEPALIVE and not self._udp:
            minutes = int(value)
            if not 0 <= minutes <= 120:
                raise os_error(errno.EINVAL, "TCP_KEEPALIVE takes idle minutes, 0 (off) to 120")
            self._options["keepalive"] = minutes
        else:
            raise os_error(errno.ENOPROTOOPT, f"socket option ({level}, {option}) is not supported by the modem")

    def getsockopt(self, level: int, option: int, buflen: int = 0):
        self._check_open()
        if level == SOL_SOCKET and option == SO_ERROR:
            error = self._link.connect_error or self._link.error
            return error.args[0] if error is not None and error.args else 0
        if level == SOL_SOCKET and option == SO_REUSEADDR:
            return int(self._options.get("reuseaddr", False))
        if level == SOL_SOCKET and option == SO_KEEPALIVE:
            return int(bool(self._options.get("keepalive")))
        if level == SOL_SOCKET and option == SO_TYPE:  # the first thing CPython's ssl asks a socket
            raise os_error(errno.ENOPROTOOPT, "CPython's ssl cannot wrap an atsock socket: "
                                              "use atsock.ssl (from atsock import ssl) instead")
        raise os_error(errno.ENOPROTOOPT, f"socket option ({level}, {option}) is not supported by the modem")

    # --- readiness ------------------------------------------------------------------------------
    def _poll_mask(self) -> int:
        if self._connecting is not None and not self._connecting.done():
            return 0
        return self._link.poll_mask()

    def fileno(self) -> int:
        """A real descriptor, readable while data or an event waits; -1 once closed."""
        link = self._link
        if link.state == "closed":
            return -1
        if link.signal is None:
            link.signal = ReadySignal()
            link.signal.update(link.state == "failed" or link.readable)
        return link.signal.fileno()

    # --- the rest of the usocket surface --------------------------------------------------------
    def makefile(self, mode: str = "rb", buffering: int = 0, **_ignored) -> "socket":
        """MicroPython returns the socket itself: it already has read/readline/write."""
        return self

    def close(self) -> None:
        link = self._link
        if link.state != "closed":
            try:
                self._modem.run(self._modem.dialect.close_link(link))
            except OSError:
                link.release()  # the modem is gone; the socket is closed all the same
        if link.signal is not None:
            link.signal.close()

    def __del__(self) -> None:
        # A socket dropped without close() would hold one of the modem's few connectIDs forever.
        link = getattr(self, "_link", None)
        if link is not None and link.id is not None and link.state != "closed":
            self._modem.close_later(link)

    def __enter__(self) -> "socket":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<atsock.socket {'UDP' if self._udp else 'TCP'} id={self._link.id} state={self._link.state}>"
