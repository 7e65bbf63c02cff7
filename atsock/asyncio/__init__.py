"""``from atsock import asyncio``: CPython's asyncio, with its network through the modem.

    import atsock
    from atsock import asyncio

    async def main():
        reader, writer = await asyncio.open_connection("example.org", 80)
        writer.write(b"GET / HTTP/1.0\\r\\nHost: example.org\\r\\n\\r\\n")
        page = await reader.read()                  # to the end of the stream
        writer.close(); await writer.wait_closed()

    atsock.open_modem("/dev/ttyUSB2", dialect="quectel", apn="internet")
    asyncio.run(main())

Every name of CPython's ``asyncio`` is here and is CPython's (``run``, ``sleep``, ``gather``,
``wait_for``, ``Event``, ``Queue``...), except those that open network connections, which go
through the modem: ``open_connection``, ``start_server`` (and ``Server``), ``create_connection``,
``create_server``, ``create_datagram_endpoint`` (the loop methods of those names, as functions),
and the stream classes, CPython's with MicroPython's additions. ``run``, ``new_event_loop`` and
``get_event_loop`` give a :class:`ModemEventLoop` (:mod:`.loop`), whose own ``create_connection``,
``create_server``, ``create_datagram_endpoint`` and ``getaddrinfo`` use the modem too, so libraries
such as aiohttp and websockets reach it unmodified. ``sleep_ms``, ``wait_for_ms``,
``ThreadSafeFlag``, ``get_event_loop`` and ``Loop`` are MicroPython's. ``atsock.micropython.load()``
gives this module to MicroPython code that imports ``asyncio`` or ``uasyncio``, and
``atsock.install(standard_names=True)`` to every later import of ``asyncio``; otherwise the host's
``asyncio`` is left alone. The engine keeps its own loop thread: each modem operation is one hop to it and
back (:mod:`atsock.asyncio.bridge`).
"""
import asyncio as _host
from asyncio import *  # noqa: F401,F403  (CPython's names first; the modem's replace some below)

from .connections import Server, create_connection, create_server
from .datagram import create_datagram_endpoint
from .loop import Loop, ModemEventLoop, ModemEventLoopPolicy, get_event_loop, new_event_loop, run
from .micropython_names import ThreadSafeFlag, sleep_ms, wait_for_ms
from .streams import StreamReader, StreamWriter, open_connection, start_server

_MODEM_NAMES = ["open_connection", "start_server", "Server", "StreamReader", "StreamWriter", "create_connection",
                "create_server", "create_datagram_endpoint", "sleep_ms", "wait_for_ms", "ThreadSafeFlag",
                "ModemEventLoop", "ModemEventLoopPolicy", "new_event_loop", "run", "get_event_loop", "Loop"]
__all__ = sorted(set(_host.__all__) | set(_MODEM_NAMES))


def __getattr__(name: str):
    """The rest of CPython's asyncio (its submodules, ``events``, ``tasks``...) as it is."""
    return getattr(_host, name)
