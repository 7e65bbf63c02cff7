"""``open_connection`` and ``start_server`` on the modem, with CPython's stream classes.

The reader and writer are CPython's ``StreamReader``/``StreamWriter`` (so EOF, ``IncompleteReadError``,
``LimitOverrunError``, flow control and errors are exactly CPython's) with what MicroPython's
single ``Stream`` object adds: ``readinto``, ``awrite``, ``awritestr``, ``aclose``, ``async with``,
and the writer's calls on the reader too (MicroPython hands the same object out twice).
"""
import asyncio
from typing import Callable

from ..core.connection import Connection
from ..tls.session import TlsSession
from . import connections

_LIMIT = 2 ** 16  # CPython's line length limit, also half the read buffer


class StreamWriter(asyncio.StreamWriter):
    async def awrite(self, buf, off: int = 0, sz: int = -1) -> None:
        """MicroPython's write-and-drain; ``off`` and ``sz`` pick a slice of ``buf``."""
        if off or sz != -1:
            view = memoryview(buf)
            buf = view[off:] if sz == -1 else view[off:off + sz]
        self.write(buf)
        await self.drain()

    async def awritestr(self, text: str) -> None:
        await self.awrite(text.encode())

    async def aclose(self) -> None:
        self.close()
        await self.wait_closed()

    async def __aenter__(self) -> "StreamWriter":
        return self

    async def __aexit__(self, *exc) -> None:
        await self.aclose()


class StreamReader(asyncio.StreamReader):
    _writer: StreamWriter = None

    async def readinto(self, buf) -> int:
        """Up to ``len(buf)`` bytes into ``buf``; 0 at the end of the stream."""
        view = memoryview(buf).cast("B")
        data = await self.read(len(view))
        view[:len(data)] = data
        return len(data)

    # MicroPython's stream is one object: what its writer does, the reader does as well
    def write(self, data) -> None:
        self._writer.write(data)

    async def drain(self) -> None:
        await self._writer.drain()

    async def awrite(self, buf, off: int = 0, sz: int = -1) -> None:
        await self._writer.awrite(buf, off, sz)

    async def awritestr(self, text: str) -> None:
        await self._writer.awritestr(text)

    def get_extra_info(self, name, default=None):
        return self._writer.get_extra_info(name, default)

    def close(self) -> None:
        self._writer.close()

    async def wait_closed(self) -> None:
        await self._writer.wait_closed()

    async def aclose(self) -> None:
        await self._writer.aclose()

    async def __aenter__(self) -> "StreamReader":
        return self

    async def __aexit__(self, *exc) -> None:
        await self.aclose()


def _stream_pair(limit: int):
    loop = asyncio.get_running_loop()
    reader = StreamReader(limit=limit, loop=loop)
    return reader, asyncio.StreamReaderProtocol(reader, loop=loop)


def _writer_for(transport, protocol, reader: StreamReader) -> StreamWriter:
    writer = StreamWriter(transport, protocol, reader, asyncio.get_running_loop())
    reader._writer = writer
    return writer


async def open_connection(host=None, port=None, ssl=None, server_hostname=None, *, limit: int = _LIMIT,
                          ssl_handshake_timeout=None, sock=None, modem=None):
    """A TCP connection through the modem as ``(reader, writer)``.

    ``ssl``: True (a verifying context with the system's CAs) or an ``SSLContext`` (``atsock.ssl``'s
    or CPython's); the TLS runs on the host. ``sock``: an atsock socket connected already.
    ``modem``: which modem (default: the most recently opened)."""
    modem = connections.modem_of(modem, sock)
    session, handshake_limit = connections.client_tls(ssl, host, server_hostname, ssl_handshake_timeout)
    conn, sock = await connections.connected_socket(modem, host, port, sock)
    try:
        reader, protocol = _stream_pair(limit)
        transport = await connections.transport_for(modem, conn, sock, protocol, session, handshake_limit)
    except BaseException:
        modem.close_later(conn)
        raise
    return reader, _writer_for(transport, protocol, reader)


async def start_server(client_connected_cb: Callable, host=None, port=None, backlog: int = 5, ssl=None, *,
                       limit: int = _LIMIT, ssl_handshake_timeout=None, start_serving: bool = True,
                       modem=None) -> connections.Server:
    """A server on the modem (``AT+QIOPEN "TCP LISTENER"`` / ``AT+CIPSERVER``) calling
    ``client_connected_cb(reader, writer)`` for every client (a coroutine function runs as a task).

    ``host`` is the modem's own address or "0.0.0.0"/""/None; ``port`` 0 or None lets the modem pick
    one (``server.sockets[0].getsockname()``). ``ssl``: a server ``SSLContext``; the handshake is
    done before the callback."""
    modem = connections.modem_of(modem)
    context, handshake_limit = connections.server_tls(ssl, ssl_handshake_timeout)

    async def serve(conn: Connection, sock) -> None:
        reader, protocol = _stream_pair(limit)
        session = None if context is None else TlsSession(context, server_side=True)
        transport = await connections.transport_for(modem, conn, sock, protocol, session, handshake_limit)
        writer = _writer_for(transport, protocol, reader)
        loop = asyncio.get_running_loop()
        try:
            handled = client_connected_cb(reader, writer)
            if asyncio.iscoroutine(handled):
                await handled
        except Exception as exc:
            loop.call_exception_handler({"message": "Unhandled exception in client_connected_cb",
                                         "exception": exc, "transport": transport})
            transport.close()

    return await connections.listening_server(modem, host, port, backlog, serve, start_serving)
