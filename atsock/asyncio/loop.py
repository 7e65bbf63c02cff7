"""An event loop whose network is the modem, so that unmodified asyncio code and libraries
(aiohttp, websockets) reach it through the loop's own methods.

:class:`ModemEventLoop` is CPython's selector loop with its network methods replaced:
``create_connection``, ``create_server`` and ``create_datagram_endpoint`` open modem connections
(:mod:`.connections`, :mod:`.datagram`), ``getaddrinfo`` asks the modem's DNS (in the loop's
executor, as CPython does with the host's resolver), ``getnameinfo`` answers as
:mod:`atsock.standard.socket` does, ``sock_sendfile`` sends through ``sock_sendall`` (a modem
socket's descriptor is no kernel socket to hand to ``os.sendfile``). Everything else (timers,
tasks, subprocesses, pipes, ``sock_connect``/``sock_recv`` on atsock sockets through their
descriptors, AF_UNIX) is the host loop's. A socket given as ``sock=`` that is the host's own (an
AF_UNIX one, say) is served by the host, as the caller asked.

``run`` and ``new_event_loop`` of :mod:`atsock.asyncio` make one; ``get_event_loop`` and ``Loop``
are MicroPython's names.
"""
import asyncio
import errno
import threading

from ..errors import os_error
from ..standard import socket as standard_socket
from ..surface import usock
from . import connections, datagram

_SENDFILE_BLOCK = 64 * 1024


class ModemEventLoop(asyncio.SelectorEventLoop):
    """CPython's selector event loop whose network methods go through the modem (this module's docstring
    says which); the rest is the host loop's."""
    # --- names ----------------------------------------------------------------------------------
    async def getaddrinfo(self, host, port, *, family=0, type=0, proto=0, flags=0):
        """``getaddrinfo`` through the modem's DNS, in the loop's executor."""
        return await self.run_in_executor(None, standard_socket.getaddrinfo, host, port, family, type, proto, flags)

    async def getnameinfo(self, sockaddr, flags=0):
        """As :func:`atsock.standard.socket.getnameinfo` (numeric: the modules have no reverse lookup), in
        the loop's executor."""
        return await self.run_in_executor(None, standard_socket.getnameinfo, sockaddr, flags)

    # --- connections ----------------------------------------------------------------------------
    async def create_connection(self, protocol_factory, host=None, port=None, *, ssl=None, family=0, proto=0,
                                flags=0, sock=None, local_addr=None, server_hostname=None,
                                ssl_handshake_timeout=None, **options):
        """``(transport, protocol)`` of a connection through the modem, or over an atsock ``sock``
        connected already (aiohttp connects one with ``sock_connect`` first). ``family``,
        ``happy_eyeballs_delay`` and ``interleave`` are for the host's address families: the
        modem's addresses are tried as the modem gives them."""
        if sock is not None and not isinstance(sock, usock.socket):
            return await super().create_connection(protocol_factory, host, port, ssl=ssl, family=family, proto=proto,
                                                   flags=flags, sock=sock, local_addr=local_addr,
                                                   server_hostname=server_hostname,
                                                   ssl_handshake_timeout=ssl_handshake_timeout, **options)
        if local_addr is not None:
            raise os_error(errno.EOPNOTSUPP, "local_addr: the modem picks the local end of a connection made "
                                             "by the loop (bind an atsock socket and pass sock= for a chosen port)")
        return await connections.create_connection(protocol_factory, host, port, ssl=ssl,
                                                   server_hostname=server_hostname,
                                                   ssl_handshake_timeout=ssl_handshake_timeout, sock=sock)

    async def create_server(self, protocol_factory, host=None, port=None, *, sock=None, backlog=100, ssl=None,
                            ssl_handshake_timeout=None, start_serving=True, **options):
        """A server listening on the modem (``host``: the modem's address, "" or None for any)."""
        if sock is not None:
            if isinstance(sock, usock.socket):
                raise NotImplementedError("create_server(sock=) of an atsock socket: give host and port, the "
                                          "modem opens the listener")
            return await super().create_server(protocol_factory, sock=sock, backlog=backlog, ssl=ssl,
                                               ssl_handshake_timeout=ssl_handshake_timeout,
                                               start_serving=start_serving, **options)
        if isinstance(host, (list, tuple)):
            host = host[0] if host else None
        return await connections.create_server(protocol_factory, host, port, backlog=backlog, ssl=ssl,
                                               ssl_handshake_timeout=ssl_handshake_timeout,
                                               start_serving=start_serving)

    async def create_datagram_endpoint(self, protocol_factory, local_addr=None, remote_addr=None, *, sock=None,
                                       **options):
        """A UDP endpoint on the modem (``local_addr``, ``remote_addr`` as CPython takes them); a host
        socket given as ``sock`` stays the host's."""
        if sock is not None and not isinstance(sock, usock.socket):
            return await super().create_datagram_endpoint(protocol_factory, sock=sock, **options)
        if sock is not None:
            raise NotImplementedError("create_datagram_endpoint(sock=) of an atsock socket: give local_addr "
                                      "and remote_addr, the modem opens the socket")
        return await datagram.create_datagram_endpoint(protocol_factory, local_addr, remote_addr)

    async def start_tls(self, transport, protocol, sslcontext, **options):
        """CPython's, for host transports; a modem connection is opened with ``ssl=`` instead
        (``NotImplementedError``)."""
        if isinstance(transport, asyncio.Transport) and isinstance(transport.get_extra_info("socket"), usock.socket):
            raise NotImplementedError("start_tls on a modem connection: open it with ssl= instead")
        return await super().start_tls(transport, protocol, sslcontext, **options)

    async def sock_sendfile(self, sock, file, offset=0, count=None, *, fallback=True):
        """What CPython's fallback does: read blocks of ``file``, ``sock_sendall`` each."""
        if not isinstance(sock, usock.socket):
            return await super().sock_sendfile(sock, file, offset, count, fallback=fallback)
        if offset:
            file.seek(offset)
        sent = 0
        try:
            while count is None or sent < count:
                block = file.read(_SENDFILE_BLOCK if count is None else min(_SENDFILE_BLOCK, count - sent))
                if not block:
                    break
                await self.sock_sendall(sock, block)
                sent += len(block)
            return sent
        finally:
            if sent:
                file.seek(offset + sent)


_this_thread = threading.local()  # the loop get_event_loop() answers outside a running one


class ModemEventLoopPolicy(asyncio.DefaultEventLoopPolicy):
    """``asyncio.set_event_loop_policy(ModemEventLoopPolicy())``: every new loop is a modem loop."""
    _loop_factory = ModemEventLoop


def new_event_loop() -> ModemEventLoop:
    """A new modem loop, which ``get_event_loop()`` then answers (MicroPython's resets its loop)."""
    loop = _this_thread.loop = ModemEventLoop()
    return loop


def run(main, *, debug=None):
    """CPython's ``asyncio.run``, on a :class:`ModemEventLoop`."""
    with asyncio.Runner(debug=debug, loop_factory=ModemEventLoop) as runner:
        return runner.run(main)


# --- MicroPython's names ----------------------------------------------------------------------------
def get_event_loop() -> asyncio.AbstractEventLoop:
    """MicroPython's: the running loop, else this thread's modem loop (made on first use), without
    CPython's deprecation of the call."""
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        pass
    loop = getattr(_this_thread, "loop", None)
    if loop is None or loop.is_closed():
        loop = _this_thread.loop = ModemEventLoop()
        asyncio.set_event_loop(loop)
    return loop


class _CurrentLoop:
    """MicroPython's ``asyncio.Loop``, whose methods (``run_until_complete``, ``run_forever``,
    ``create_task``, ``stop``, ``close``...) act on the current loop."""

    def __getattr__(self, name: str):
        return getattr(get_event_loop(), name)

    def __repr__(self) -> str:
        return "<atsock.asyncio.Loop: the current event loop>"


Loop = _CurrentLoop()

