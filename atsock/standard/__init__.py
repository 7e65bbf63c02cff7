"""The standard library's network modules as the modem serves them, for ordinary Python code.

``atsock.install(standard_names=True)`` puts these in ``sys.modules`` under CPython's names, so
that ``http.client``, ``urllib.request``, ``requests``, ``paho-mqtt``, ``aiohttp``... imported
afterwards reach the network through the modem, in the same process:

* :mod:`.socket` for ``socket``: CPython's names and socket object (``makefile`` giving a real
  buffered file, ``create_connection``, ``getaddrinfo`` with enums...) over atsock's sockets;
* :mod:`.select` for ``select``: CPython's ``poll`` (descriptors in, descriptors out) and
  ``select`` that know atsock sockets;
* :mod:`.ssl` for ``ssl``: CPython's names, with contexts whose ``wrap_socket`` does host TLS over
  a modem socket and gives a socket with CPython's file surface.

``asyncio`` is :mod:`atsock.asyncio`, whose event loop opens its connections through the modem.
Names a module cannot serve raise ``OSError`` (or ``NotImplementedError``) with the reason when
called, never ``AttributeError`` at import. MicroPython programs keep MicroPython's view
(``usocket``, ``uselect``, ``ussl``; and ``atsock.micropython.load()``).
"""
import importlib
import types
from typing import Dict


def modules() -> Dict[str, types.ModuleType]:
    """``{"socket": ..., "select": ..., "ssl": ...}``: what ``install(standard_names=True)`` registers."""
    return {name: importlib.import_module(f"{__name__}.{name}") for name in ("socket", "select", "ssl")}
