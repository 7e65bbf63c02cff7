"""The usocket ``socket`` object over a modem's AT sockets: TCP clients and servers, UDP.

Arguments are checked as CPython checks them (:mod:`atsock.surface.arguments`); every operation then goes
through the :class:`~atsock.modem.Modem` façade, which runs it on the engine's loop, so received
data, the connection's state and the modem's commands are only ever touched by one thread.

Blocking rules follow MicroPython: ``settimeout(None)`` blocks; ``settimeout(t)`` raises
``OSError(ETIMEDOUT)`` (a ``TimeoutError``) after ``t`` seconds; ``settimeout(0)`` never waits:
``recv``/``accept``/``send`` raise ``EAGAIN``, ``connect`` raises ``EINPROGRESS`` and completes in
the background (watch it with ``poll``; until it is through, ``send``/``recv`` raise ``EAGAIN``
and ``read``/``write`` return ``None``), ``read``/``readinto``/``readline`` return ``None``. On a
blocking socket ``read(n)`` and ``readinto`` return short only at end of stream; a call that times
out leaves every byte it had gathered in the socket for the next call. ``MSG_DONTWAIT`` makes one
call non-blocking; ``MSG_PEEK`` returns data without taking it.

``AF_INET6`` sockets work where the modem carries IPv6 (a Quectel context of type IPv6 or IPv4v6,
ESP-AT 2.x opened with ``ipv6=True``) and are ``EAFNOSUPPORT`` elsewhere; their addresses are
CPython's ``(host, port, flowinfo, scope_id)``.
"""
import asyncio
import errno
import logging
import random
import sys
from typing import Optional, Tuple

from ..constants import (AF_INET, AF_INET6, IPPROTO_TCP, IPPROTO_UDP, MSG_DONTWAIT, MSG_PEEK, SO_ERROR, SO_KEEPALIVE,
                         SO_REUSEADDR, SO_TYPE, SOCK_DGRAM, SOCK_STREAM, SOL_SOCKET, TCP_KEEPALIVE, TCP_NODELAY)
from ..core import validate
from ..core.connection import Connection, Kind
from ..core.lifecycle import SocketState
from ..core.readiness import changes
from ..errors import os_error, timeout_error
from ..select import poll_mask
from . import arguments, inet
from .addrinfo import lookup, resolve_addrinfo
from .checked import UNSET, SocketArguments
from .current import current_modem
from .transfer import Transfer

log = logging.getLogger("atsock.socket")

_EPHEMERAL = (49152, 65535)
_DEFAULT_KEEPALIVE_MINUTES = 2
_KNOWN_FLAGS = MSG_PEEK | MSG_DONTWAIT
S = SocketState


def getaddrinfo(host, port, af=0, type=0, proto=0, flags=0):
    """``getaddrinfo`` through the most recently opened modem."""
    return resolve_addrinfo(current_modem, host, port, af, type, proto, flags)


class socket(Transfer, SocketArguments):
    """Each method's arguments are checked as CPython checks them before its body runs
    (:mod:`atsock.surface.checked`): the bodies below get them checked and made plain."""

    def __init__(self, af: int = AF_INET, type: int = SOCK_STREAM, proto: int = 0, *,
                 modem=None, _conn: Optional[Connection] = None):
        af, type, proto = arguments.c_int(af), arguments.c_int(type), arguments.c_int(proto)
        if af not in (AF_INET, AF_INET6):
            raise os_error(errno.EAFNOSUPPORT, f"address family {af} is not supported by the modem (AF_INET, AF_INET6)")
        expected = {SOCK_STREAM: IPPROTO_TCP, SOCK_DGRAM: IPPROTO_UDP}.get(type)
        if expected is None:
            raise os_error(errno.EPROTONOSUPPORT, f"socket type {type} is not supported by the modem")
        if proto not in (0, expected):
            raise os_error(errno.EPROTONOSUPPORT, f"protocol {proto} does not go with socket type {type}")
        self._modem = modem or current_modem()
        refusal = self._modem.family_refusal(af)
        if refusal is not None:
            raise os_error(errno.EAFNOSUPPORT, refusal)
        self._conn = _conn or Connection(Kind.UDP if type == SOCK_DGRAM else Kind.TCP)
        self._conn.family = af
        self._timeout: Optional[float] = None
        self._local_port: Optional[int] = None
        self._peer: Optional[Tuple[str, int]] = None  # UDP: the peer fixed by connect()
        self._connecting: Optional[asyncio.Future] = None  # a non-blocking connect in progress
        self._options = {}
        self.family, self.type, self.proto = af, type, proto or expected

    @property
    def _udp(self) -> bool:
        return self.type == SOCK_DGRAM

    @property
    def _state(self) -> SocketState:
        return self._conn.state

    # --- state checks ---------------------------------------------------------------------------
    def _check_open(self) -> None:
        if self._state is S.CLOSED:
            raise os_error(errno.EBADF, "socket is closed")

    def _call_timeout(self, flags: int) -> Optional[float]:
        """The time-out of one call with ``flags`` (already parsed by ``arguments.flags``)."""
        if flags & ~_KNOWN_FLAGS:
            raise os_error(errno.EOPNOTSUPP, f"flags {flags:#x} are not supported by the modem")
        return 0.0 if flags & MSG_DONTWAIT else self._timeout

    # --- timeouts -------------------------------------------------------------------------------
    def settimeout(self, value: Optional[float]) -> None:
        """``None`` blocks; seconds raise ``OSError(ETIMEDOUT)`` (a ``TimeoutError``) after that long; 0
        never waits. The rules of each call are in the module's docstring."""
        self._timeout = value
        self._check_open()  # after storing it, as CPython does: gettimeout() tells the same

    def gettimeout(self) -> Optional[float]:
        """What :meth:`settimeout` set: ``None`` (blocking), ``0.0`` (non-blocking) or seconds."""
        return self._timeout

    def setblocking(self, flag: bool) -> None:
        """``setblocking(True)`` is ``settimeout(None)``, ``setblocking(False)`` is ``settimeout(0)``."""
        self._timeout = None if flag else 0.0
        self._check_open()

    @property
    def _open_timeout(self) -> Optional[float]:
        """How long opening a listener or a UDP socket may wait for the module: the socket's
        time-out (a non-blocking socket waits for the one exchange, as its other calls do)."""
        return self._timeout or None

    # --- addresses (checked by atsock.surface.checked with inet.destination: a name is resolved later) ---
    def _resolve(self, host: str) -> str:
        if host in ("", "<broadcast>"):
            raise os_error(errno.EINVAL, f"cannot connect to {host!r}")
        return host if validate.ip_literal(host) is not None else lookup(self._modem, host, self.family)[0]

    def _own_addresses(self):
        if self.family == AF_INET6:
            return "", "::", "::1", "localhost", self._modem.local_ipv6
        return "", "0.0.0.0", "127.0.0.1", "localhost", self._modem.local_ip

    def bind(self, address) -> None:
        """Choose the local port. The host is one of the modem's own addresses (``""``, ``"0.0.0.0"``, its
        IP, or their IPv6 forms; a name is not looked up): the module binds nothing else
        (``EADDRNOTAVAIL``). A UDP socket opens its service at once; a TCP one uses the port when it
        connects or listens."""
        host, port = address
        self._check_open()
        # (a name is never looked up: the modem binds its own addresses only)
        if host not in self._own_addresses():
            raise os_error(errno.EADDRNOTAVAIL, f"{host!r} is not an address of the modem")
        if self._local_port is not None or self._state is not S.FRESH:
            raise os_error(errno.EINVAL, "socket is already bound")
        self._local_port = port
        if self._udp:
            self._open_udp()

    def _pick_port(self) -> int:
        in_use = self._modem.local_ports()
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
                opener(port)
                self._local_port = port
                return
            except OSError as exc:
                if chosen or exc.args[0] != errno.EADDRINUSE:
                    raise
        raise os_error(errno.EADDRINUSE, "the modem found no free local port")

    def _open_udp(self, peer=None) -> None:
        if self._state is S.FRESH:
            self._open_with_port(lambda port: self._modem.bind_udp(self._conn, port, peer, self._open_timeout))

    def getsockname(self):
        """``(address, port)`` on the modem's side: the module's own address on its network (not this
        host's), and port 0 until one is chosen."""
        self._check_open()
        if self.family == AF_INET6:
            local = self._modem.local_ipv6 or "::"
        else:
            local = self._modem.local_ip or "0.0.0.0"
        return inet.sockaddr((local, self._local_port or self._conn.local_port or 0), self.family)

    def getpeername(self):
        """The peer's address: the connected TCP peer, or the one ``connect()`` fixed for a UDP socket;
        ``ENOTCONN`` otherwise."""
        self._check_open()
        peer = self._peer if self._udp else self._conn.remote
        if peer is None or (not self._udp and self._state in (S.FRESH, S.OPENING, S.LISTENING)):
            raise os_error(errno.ENOTCONN, "socket is not connected")
        return inet.sockaddr(peer, self.family)

    # --- connecting -----------------------------------------------------------------------------
    def connect(self, address) -> None:
        """Connect to ``(host, port)``, a name resolved by the modem's DNS first. A TCP socket opens the
        module's connection (``AT+QIOPEN``, ``AT+CIPSTART``); a non-blocking one raises ``EINPROGRESS``
        and connects in the background (watch it with ``poll``). A UDP socket fixes its peer."""
        host, port = address
        self._check_open()
        self._connect(self._resolve(host), port)

    def connect_ex(self, address) -> int:
        """The errno of the connection attempt; a bad address or a name that does not resolve
        raises, as in CPython."""
        host, port = address
        try:
            self._check_open()
        except OSError as exc:
            return exc.args[0]
        ip = self._resolve(host)
        try:
            self._connect(ip, port)
        except OSError as exc:
            if isinstance(exc.args[0], int):
                return exc.args[0]
            raise
        return 0

    def _connect(self, ip: str, port: int) -> None:
        if self._udp:
            self._peer = (ip, port)
            self._open_udp(self._peer)
            return
        self._check_connect_allowed()
        self._conn.keepalive = self._options.get("keepalive")
        local_port = self._local_port or 0
        if self._timeout == 0:
            self._connecting = self._modem.start_connect(self._conn, ip, port, local_port)
            raise os_error(errno.EINPROGRESS)
        self._modem.connect(self._conn, ip, port, self._timeout, local_port)

    def _check_connect_allowed(self) -> None:
        pending = self._connecting
        if pending is not None:
            if not pending.done():
                raise os_error(errno.EALREADY, "connect already in progress")
            self._take_connect_verdict(pending)
        state = self._state
        if state is S.LISTENING:
            raise os_error(errno.EISCONN, "a listening socket cannot connect")
        if state is not S.FRESH:
            raise os_error(errno.EISCONN, "socket is already connected")

    def _connect_settled(self, timeout: Optional[float]) -> bool:
        """False while a non-blocking connect is under way and the call may not wait for it (the
        caller raises EAGAIN or returns None, as CPython and MicroPython do); else True, once it
        is over, raising the error of a connect that failed."""
        pending = self._connecting
        if pending is None:
            return True
        if not pending.done():
            if timeout == 0:
                return False
            if not changes.wait_until(pending.done, timeout):
                raise timeout_error()
        self._take_connect_verdict(pending)
        return True

    def _take_connect_verdict(self, pending) -> None:
        if self._connecting is pending:
            self._connecting = None
            error, self._conn.connect_error = self._conn.connect_error, None
            if error is not None:
                raise error

    # --- servers --------------------------------------------------------------------------------
    def listen(self, backlog: int = UNSET) -> None:
        """Serve TCP on the module at the bound port, or an ephemeral one (``AT+QIOPEN`` "TCP LISTENER",
        ``AT+CIPSERVER``). ``backlog`` is capped by the module's ids (one less than ``max_sockets``);
        without one, 2."""
        depth = None if backlog is UNSET else backlog
        self._check_open()
        if self._udp:
            raise os_error(errno.EOPNOTSUPP, "UDP sockets do not listen")
        if self._state is S.LISTENING:
            return
        if self._state is not S.FRESH:
            raise os_error(errno.EINVAL, "only a fresh socket can listen")
        depth = 2 if depth is None else max(1, min(depth, self._modem.max_sockets - 1))
        self._conn.keepalive = self._options.get("keepalive")
        self._open_with_port(lambda port: self._modem.listen(self._conn, port, depth, self._open_timeout))

    def accept(self):
        """``(socket, address)`` of the next client the module let in; waits as the socket's time-out says."""
        self._check_open()
        if self._state is not S.LISTENING:
            raise os_error(errno.EINVAL, "socket is not listening")
        conn = self._modem.accept(self._conn, self._timeout)
        return (type(self)(self.family, SOCK_STREAM, 0, modem=self._modem, _conn=conn),
                inet.sockaddr(conn.remote, self.family))

    # --- options --------------------------------------------------------------------------------
    def setsockopt(self, level: int, option: int, value, optlen=None) -> None:
        """The options the modules have: ``SO_REUSEADDR`` (kept, as the module binds its own ports),
        ``SO_KEEPALIVE`` and ``TCP_KEEPALIVE`` (idle minutes, 0 to 120; given to the module when the
        connection opens), ``TCP_NODELAY`` (kept and reported: the modules have no Nagle switch); any
        other is ``ENOPROTOOPT``."""
        self._check_open()
        value = arguments.option_int(value)
        if level == SOL_SOCKET and option == SO_REUSEADDR:
            self._options["reuseaddr"] = bool(value)  # the modem binds its own ports; nothing to send
        elif level == SOL_SOCKET and option == SO_KEEPALIVE and not self._udp:
            self._options["keepalive"] = _DEFAULT_KEEPALIVE_MINUTES if value else 0
        elif level in (SOL_SOCKET, IPPROTO_TCP) and option == TCP_KEEPALIVE and not self._udp:
            if not 0 <= value <= 120:
                raise os_error(errno.EINVAL, "TCP_KEEPALIVE takes idle minutes, 0 (off) to 120")
            self._options["keepalive"] = value
        elif level == IPPROTO_TCP and option == TCP_NODELAY and not self._udp:
            # kept and reported, nothing sent: the modules have no Nagle switch (asyncio sets it on
            # every TCP socket it is given)
            self._options["nodelay"] = bool(value)
        else:
            raise os_error(errno.ENOPROTOOPT, f"socket option ({level}, {option}) is not supported by the modem")

    def getsockopt(self, level: int, option: int, buflen: int = 0):
        """An option :meth:`setsockopt` took, or ``SO_ERROR`` (the errno a failed connection keeps); with
        ``buflen``, its bytes as CPython gives them."""
        self._check_open()
        value = self._option(level, option)
        # with a buflen CPython hands back the option's bytes as the kernel stores them
        return value.to_bytes(4, sys.byteorder, signed=True)[:buflen] if buflen else value

    def _option(self, level: int, option: int) -> int:
        if level == SOL_SOCKET and option == SO_ERROR:
            error = self._conn.connect_error or self._conn.error
            return error.args[0] if error is not None and error.args else 0
        if level == SOL_SOCKET and option == SO_REUSEADDR:
            return int(self._options.get("reuseaddr", False))
        if level == SOL_SOCKET and option == SO_KEEPALIVE:
            return int(bool(self._options.get("keepalive")))
        if level == IPPROTO_TCP and option == TCP_NODELAY and not self._udp:
            return int(self._options.get("nodelay", False))
        if level == SOL_SOCKET and option == SO_TYPE:  # the first thing CPython's ssl asks a socket
            raise os_error(errno.ENOPROTOOPT, "CPython's ssl cannot wrap an atsock socket: "
                                              "use atsock.ssl (from atsock import ssl) instead")
        raise os_error(errno.ENOPROTOOPT, f"socket option ({level}, {option}) is not supported by the modem")

    def _unread(self, data: bytes) -> None:
        """Put ``data`` back before what the socket holds (a layer above read past its end: TLS
        unwrapped)."""
        if data:
            self._modem.unread(self._conn, data)

    # --- readiness ------------------------------------------------------------------------------
    def _poll_mask(self) -> int:
        if self._connecting is not None and not self._connecting.done():
            return 0
        return poll_mask(self._conn)

    def fileno(self) -> int:
        """A real descriptor, readable while data or an event waits and writable while a send
        would not wait (:meth:`Connection.readiness`); -1 once closed."""
        conn = self._conn
        if conn.state is S.CLOSED:
            return -1
        return conn.notifier.descriptor()

    # --- data mode ----------------------------------------------------------------------------
    def data_mode(self) -> "DataModeBlock":
        """``with sock.data_mode(): sock.sendall(big)``: the block's traffic goes raw over the
        module's transparent mode (see :mod:`atsock.core.transparent` and the README), and the line is
        back in command mode after it. Quectel switches a connected socket (or one connected in the
        block); ESP-AT's passthrough opens its own connection, so there ``connect()`` goes inside
        the block, the socket must be the modem's only one, and the connection ends with the block."""
        self._check_open()
        if self._udp:
            raise os_error(errno.EOPNOTSUPP, "data mode carries a TCP connection")
        return DataModeBlock(self)

    # --- the rest of the usocket surface --------------------------------------------------------
    def makefile(self, mode: str = "rb", buffering: int = 0, **_ignored) -> "socket":
        """MicroPython returns the socket itself: it already has read/readline/write."""
        return self

    def close(self) -> None:
        """Closed at once; the module's confirmation (the id free again) is waited for at most the
        socket's time-out, and goes on in the background after that."""
        conn = self._conn
        if conn.state is not S.CLOSED:
            try:
                self._modem.close_connection(conn, self._timeout)
            except OSError:
                if conn.state is not S.CLOSED:
                    conn.life.release()  # the modem is gone; the socket is closed all the same
        conn.notifier.close()

    def __del__(self) -> None:
        # A socket dropped without close() would hold one of the modem's few ids forever.
        conn = getattr(self, "_conn", None)
        if conn is not None and conn.state is not S.CLOSED and conn.state is not S.FRESH:
            self._modem.close_later(conn)

    def __enter__(self) -> "socket":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<atsock.socket {'UDP' if self._udp else 'TCP'}{'v6' if self.family == AF_INET6 else ''} id={self._conn.id} state={self._state.value}>"


class DataModeBlock:
    """What :meth:`socket.data_mode` returns: entering switches (or arms ``connect()`` to switch),
    leaving goes back to command mode. Blocks do not nest: a second one on the same socket is
    refused with ``EALREADY`` and leaves the first as it was."""

    def __init__(self, sock: socket):
        self._sock = sock

    def __enter__(self) -> socket:
        sock = self._sock
        sock._check_open()
        conn = sock._conn
        if conn.data_mode_wanted or conn.data_session is not None:
            raise os_error(errno.EALREADY, "this socket is already in data mode (data_mode() blocks do not nest)")
        if conn.state is S.FRESH:
            conn.data_mode_wanted = True
        elif conn.state is S.CONNECTED:
            sock._modem.enter_data_mode(conn)
        else:
            raise os_error(errno.ENOTCONN, "data mode needs a connected socket (or one that connects in the block)")
        return sock

    def __exit__(self, exc_type, exc, tb) -> None:
        conn = self._sock._conn
        conn.data_mode_wanted = False
        if conn.data_session is None:
            return
        try:
            self._sock._modem.leave_data_mode(conn)
        except OSError:
            if exc_type is None:
                raise
            log.warning("leaving data mode after %s failed", exc_type.__name__)
