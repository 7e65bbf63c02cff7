"""atsock: MicroPython's ``usocket`` API on CPython, over a modem's own TCP/IP stack.

    import atsock as usocket
    modem = usocket.open_modem("/dev/ttyUSB2", dialect="quectel", apn="internet")
    addr = usocket.getaddrinfo("example.org", 80)[0][-1]
    s = usocket.socket()
    s.connect(addr)

Layers, bottom up: :mod:`atsock.wire.framing` and :mod:`atsock.wire.channel` (sans-I/O AT parsing),
:mod:`atsock.wire.engine` (one port, one command in flight, URC dispatch), the dialects in ``modems/``
(the AT text of each exchange), :mod:`atsock.core.socketcore` (the life of every connection),
:mod:`atsock.modem` (the façade) and :mod:`atsock.surface.usock` (the usocket surface), with
:mod:`atsock.select` for ``poll``, :mod:`atsock.ssl` for TLS over any of its sockets,
:mod:`atsock.asyncio` for asyncio streams and servers on the modem, and :mod:`atsock.micropython`
to run MicroPython code unmodified. ``docs/architecture.md`` draws them.
"""
__version__ = "0.1.0"  # the one place the version is written (pyproject.toml reads it from here)

import importlib
from typing import TYPE_CHECKING

from .constants import (AF_INET, AF_INET6, IPPROTO_IP, IPPROTO_TCP, IPPROTO_UDP, MSG_DONTWAIT, MSG_PEEK, SO_ERROR,
                        SO_KEEPALIVE, SO_REUSEADDR, SOCK_DGRAM, SOCK_RAW, SOCK_STREAM, SOL_SOCKET, TCP_KEEPALIVE,
                        TCP_NODELAY)
from .errors import DataContextError, ModemError, RegistrationError, SimError, StartupError
from .surface.addrinfo import AI_CANONNAME, AI_NUMERICHOST, AI_NUMERICSERV, AI_PASSIVE, inet_ntop, inet_pton
from .surface.current import current_modem

error = OSError      # MicroPython and old CPython code catch socket.error
timeout = TimeoutError

#: public names whose modules are imported on first use: the engine and what it stands on (asyncio,
#: pyserial, transitions) come with the first modem or socket, not with ``import atsock`` (which the
#: command line's ``--help`` pays for too); ``install`` brings MicroPython's module names and the
#: platform stand-ins
_ON_FIRST_USE = {"open_modem": "modem", "Modem": "modem", "socket": "surface.usock", "getaddrinfo": "surface.usock",
                 "ATCommandError": "wire.rawat", "ATResult": "wire.rawat", "install": "micropython"}

if TYPE_CHECKING:  # what they are, for readers, checkers and the reference pages
    from .micropython import install
    from .modem import Modem, open_modem
    from .wire.rawat import ATCommandError, ATResult
    from .surface.usock import getaddrinfo, socket


def __getattr__(name: str):
    module = _ON_FIRST_USE.get(name)
    if module is None:
        raise AttributeError(f"module 'atsock' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value  # (from now on an attribute like any other)
    return value


def __dir__():
    return sorted(set(globals()) | set(_ON_FIRST_USE))


__all__ = [
    "open_modem", "Modem", "ModemError", "SimError", "RegistrationError", "DataContextError", "StartupError",
    "ATCommandError", "ATResult", "current_modem", "install", "socket",
    "getaddrinfo", "inet_ntop", "inet_pton", "error", "timeout",
    "AF_INET", "AF_INET6", "SOCK_STREAM", "SOCK_DGRAM", "SOCK_RAW",
    "IPPROTO_IP", "IPPROTO_TCP", "IPPROTO_UDP", "MSG_PEEK", "MSG_DONTWAIT", "SOL_SOCKET", "SO_REUSEADDR", "SO_KEEPALIVE", "SO_ERROR",
    "TCP_KEEPALIVE", "TCP_NODELAY", "AI_PASSIVE", "AI_CANONNAME", "AI_NUMERICHOST", "AI_NUMERICSERV",
]
