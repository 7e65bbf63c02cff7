"""Opening TCP connections and servers on the modem, as CPython's loop methods do on the host:
``create_connection(protocol_factory, host, port)`` and ``create_server(protocol_factory, host,
port)``, with ``ssl=`` done on the host (:mod:`atsock.asyncio.tls`).

Names are looked up by the modem. A server's ``close()`` stops it listening (the module's
listener closes, and with it the clients not accepted yet); connections already made stay open.
"""
import asyncio
import errno
import logging
import ssl as _ssl
from typing import Awaitable, Callable, Optional, Set

from ..constants import SOCK_STREAM
from ..core.connection import Connection, Kind
from ..errors import os_error
from ..surface import inet, usock
from ..surface.current import current_modem
from ..tls import create_default_context
from ..tls.session import TlsSession
from . import bridge
from .tls import TlsTransport
from .transport import StreamTransport

log = logging.getLogger("atsock.asyncio")

HANDSHAKE_TIMEOUT = 60.0  # seconds, CPython's default for ssl_handshake_timeout


# --- TLS settings -------------------------------------------------------------------------------
def client_tls(ssl, host, server_hostname, handshake_timeout):
    """The TLS session a client asked for with ``ssl=`` (None for plain TCP) and its time limit."""
    if not ssl:
        if server_hostname is not None or handshake_timeout is not None:
            raise ValueError("server_hostname and ssl_handshake_timeout are only meaningful with ssl")
        return None, None
    context = create_default_context() if ssl is True else ssl
    if not isinstance(context, _ssl.SSLContext):
        raise TypeError(f"ssl must be an SSLContext or True, not {type(ssl).__name__}")
    hostname = host if server_hostname is None else server_hostname
    return TlsSession(context, server_hostname=hostname or None), _handshake_limit(handshake_timeout)


def server_tls(ssl, handshake_timeout):
    """The context a server asked for (each client gets its own session) and its time limit."""
    if ssl is None or ssl is False:
        if handshake_timeout is not None:
            raise ValueError("ssl_handshake_timeout is only meaningful with ssl")
        return None, None
    if not isinstance(ssl, _ssl.SSLContext):
        raise TypeError(f"a server's ssl must be an SSLContext, not {type(ssl).__name__}")
    return ssl, _handshake_limit(handshake_timeout)


def _handshake_limit(timeout) -> float:
    if timeout is None:
        return HANDSHAKE_TIMEOUT
    if timeout <= 0:
        raise ValueError(f"ssl_handshake_timeout should be a positive number, got {timeout}")
    return timeout


async def transport_for(modem, conn: Connection, sock, protocol: asyncio.BaseProtocol,
                        session: Optional[TlsSession], handshake_timeout: Optional[float]) -> asyncio.Transport:
    """The transport of an open connection, plain or TLS (once the handshake is through)."""
    loop = asyncio.get_running_loop()
    if session is None:
        transport = StreamTransport(loop, modem, conn, sock, protocol)
        await _connection_made(loop)
        return transport
    lower = StreamTransport(loop, modem, conn, sock, None, start=False)
    tls = TlsTransport(loop, lower, session, session.object.context, protocol)
    await tls.handshake(handshake_timeout)
    return tls


async def _connection_made(loop) -> None:
    """Until the protocol's ``connection_made`` (already scheduled) has run: as CPython's openers,
    which return once the protocol has its transport (websockets and aiohttp rely on it)."""
    made = loop.create_future()
    loop.call_soon(made.set_result, None)
    await made


def modem_of(modem, sock=None):
    if modem is not None:
        return modem
    return sock._modem if sock is not None else current_modem()


# --- clients ------------------------------------------------------------------------------------
async def connected_socket(modem, host, port, sock):
    """``(conn, sock)`` for a new connection to ``host``:``port``, or for an atsock ``sock``
    connected already."""
    if sock is not None:
        if host is not None or port is not None:
            raise ValueError("host/port and sock can not be specified at the same time")
        if not isinstance(sock, usock.socket) or sock.type != SOCK_STREAM:
            raise ValueError(f"a connected atsock TCP socket was expected, not {sock!r}")
        sock.getpeername()  # ENOTCONN unless connected
        return sock._conn, sock
    if host is None or port is None:
        raise ValueError("host and port are needed when sock is not given")
    failures = []
    for ip in await bridge.addresses(modem, host):  # each in turn, as CPython's create_connection
        conn = Connection(Kind.TCP)
        sock = usock.socket(inet.family_of(ip), modem=modem, _conn=conn)
        try:
            await bridge.connect(modem, conn, ip, port)
            return conn, sock
        except OSError as exc:  # (each names its address, as CPython's do)
            failures.append(exc if exc.errno is None else os_error(exc.errno, f"{exc.strerror}: connecting to "
                                                                                f"{(ip, port)}"))
    raise _one_error(failures)


def _one_error(failures):
    """What CPython's create_connection raises when every address failed: the error itself when
    they all say the same, else an OSError that lists them."""
    if all(str(failure) == str(failures[0]) for failure in failures):
        return failures[0]
    return OSError("Multiple exceptions: " + ", ".join(str(failure) for failure in failures))


async def create_connection(protocol_factory: Callable[[], asyncio.BaseProtocol], host=None, port=None, *,
                            ssl=None, server_hostname=None, ssl_handshake_timeout=None, sock=None, modem=None):
    """``loop.create_connection`` through the modem: ``(transport, protocol)``."""
    modem = modem_of(modem, sock)
    session, limit = client_tls(ssl, host, server_hostname, ssl_handshake_timeout)
    conn, sock = await connected_socket(modem, host, port, sock)
    try:
        protocol = protocol_factory()
        transport = await transport_for(modem, conn, sock, protocol, session, limit)
    except BaseException:
        modem.close_later(conn)
        raise
    return transport, protocol


# --- servers ------------------------------------------------------------------------------------
class Server(asyncio.AbstractServer):
    """A listening modem socket and the task that accepts its clients, each handed to ``serve``."""

    def __init__(self, modem, conn: Connection, sock, serve: Callable[[Connection, object], Awaitable[None]]):
        self._loop = asyncio.get_running_loop()
        self._modem = modem
        self._conn = conn
        self._sock = sock
        self._serve = serve
        self._accepting: Optional[asyncio.Task] = None
        self._handlers: Set[asyncio.Task] = set()
        self._closed: Optional[asyncio.Future] = None

    @property
    def sockets(self):
        return () if self._closed is not None else (self._sock,)

    def get_loop(self) -> asyncio.AbstractEventLoop:
        return self._loop

    def is_serving(self) -> bool:
        return self._accepting is not None and self._closed is None

    async def start_serving(self) -> None:
        if self._closed is not None:
            raise RuntimeError(f"server {self!r} is closed")
        if self._accepting is None:
            self._accepting = self._loop.create_task(self._accept_clients())

    async def serve_forever(self) -> None:
        await self.start_serving()
        try:
            await asyncio.shield(self._accepting)
        except asyncio.CancelledError:
            self.close()
            await self.wait_closed()
            raise

    def close(self) -> None:
        """Stop listening (clients not accepted yet go too); accepted connections stay."""
        if self._closed is None:
            self._closed = bridge.close(self._modem, self._conn)

    async def wait_closed(self) -> None:
        """Until the module's listener is closed and the accepting task has ended."""
        if self._closed is None:
            return
        try:
            await asyncio.shield(self._closed)
        except OSError as exc:
            log.debug("closing %r: %s", self, exc)
        if self._accepting is not None:
            await asyncio.wait([self._accepting])

    async def _accept_clients(self) -> None:
        while self._closed is None:
            try:
                conn = await bridge.accept(self._modem, self._conn)
            except OSError as exc:
                if self._closed is None:  # the listener failed, or the modem was closed under it
                    level = logging.INFO if exc.errno == errno.EBADF else logging.WARNING
                    log.log(level, "%r stops accepting: %s", self, exc)
                    self.close()
                return
            sock = usock.socket(modem=self._modem, _conn=conn)
            handler = self._loop.create_task(self._handle(conn, sock))
            self._handlers.add(handler)
            handler.add_done_callback(self._handlers.discard)

    async def _handle(self, conn: Connection, sock) -> None:
        try:
            await self._serve(conn, sock)
        except (OSError, ValueError) as exc:  # a TLS handshake that failed, a client gone at once
            log.info("client %s of %r dropped: %s", conn.remote, self, exc)
            self._modem.close_later(conn)
        except BaseException:
            self._modem.close_later(conn)
            raise

    def __repr__(self) -> str:
        return f"<atsock Server on port {self._conn.local_port}>"


async def listening_server(modem, host, port, backlog: int,
                           serve: Callable[[Connection, object], Awaitable[None]], start_serving: bool) -> Server:
    """A :class:`Server` listening on ``port`` (0: one the modem picks) of the modem's address ``host``."""
    if isinstance(backlog, bool) or not isinstance(backlog, int):
        raise TypeError(f"backlog must be an int, not {type(backlog).__name__}")
    local_port = bridge.local_port(modem, host, port)
    conn = Connection(Kind.TCP)
    sock = usock.socket(modem=modem, _conn=conn)
    await bridge.listen(modem, conn, local_port, backlog)
    server = Server(modem, conn, sock, serve)
    if start_serving:
        await server.start_serving()
    return server


async def create_server(protocol_factory: Callable[[], asyncio.BaseProtocol], host=None, port=None, *,
                        backlog: int = 100, ssl=None, ssl_handshake_timeout=None, start_serving: bool = True,
                        modem=None) -> Server:
    """``loop.create_server`` on the modem: one protocol per client, ``ssl=`` done on the host."""
    modem = modem_of(modem)
    context, limit = server_tls(ssl, ssl_handshake_timeout)

    async def serve(conn: Connection, sock) -> None:
        protocol = protocol_factory()
        session = None if context is None else TlsSession(context, server_side=True)
        await transport_for(modem, conn, sock, protocol, session, limit)

    return await listening_server(modem, host, port, backlog, serve, start_serving)
