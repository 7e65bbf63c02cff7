"""Stand-ins for the modules a MicroPython port has besides ``usocket``, one flavour per platform.

:func:`modules` gives the names a program of that platform imports, mapped to module objects:
atsock for the network (``asyncio``/``uasyncio`` too: :mod:`atsock.asyncio`), CPython's namesakes
for the ``u``-modules, and small stand-ins (one module each, here) for the platform's own helpers
(QuecPython's ``checkNet`` and ``log``, MaixPy's ``network``, ``fm``, ``board_info``, ``machine``).
Stand-ins for board hardware do nothing; those that report on the network answer from the real modem.
"""
import importlib
import sys
import types
from typing import Dict

from .. import asyncio as modem_asyncio
from .. import select, tls
from . import utime

FLAVOURS = ("micropython", "quecpython", "maixpy")

# MicroPython's u-modules whose CPython namesakes do the same job.
STANDARD_ALIASES = {
    "ustruct": "struct", "ubinascii": "binascii", "uerrno": "errno", "uio": "io", "ujson": "json",
    "ure": "re", "uhashlib": "hashlib", "ucollections": "collections", "uzlib": "zlib", "uos": "os",
}


def _socket_module(flavour: str) -> types.ModuleType:
    if flavour == "quecpython":
        return importlib.import_module("atsock.quecpython")
    return sys.modules["atsock"]


def modules(flavour: str = "micropython", standard_names: bool = True, port=None) -> Dict[str, types.ModuleType]:
    """The modules a ``flavour`` program finds; with ``standard_names``, also ``socket``/``time``/...

    ``port`` is what MaixPy's ``network.ESP8285(uart)`` opens (a device path, URL or open pyserial
    port); without one it uses the modem already open.
    """
    if flavour not in FLAVOURS:
        raise ValueError(f"flavour must be one of {', '.join(FLAVOURS)}, not {flavour!r}")
    usocket = _socket_module(flavour)
    names = {alias: importlib.import_module(real) for alias, real in STANDARD_ALIASES.items()}
    names.update({"usocket": usocket, "uselect": select, "ussl": tls, "tls": tls, "utime": utime,
                  "uasyncio": modem_asyncio})
    if standard_names:
        names.update({"socket": usocket, "select": select, "ssl": tls, "time": utime, "asyncio": modem_asyncio})
    if flavour == "quecpython":
        from . import checkNet, log
        names.update({"checkNet": checkNet, "log": log})
    elif flavour == "maixpy":
        from . import board, board_info, fm, fpioa_manager, machine, network
        names.update({"network": network.bound_to(port), "fm": fm, "board_info": board_info,
                      "fpioa_manager": fpioa_manager, "board": board, "machine": machine})
    return names


# Modules of the ports atsock knows of but offers under no flavour, or only under another one:
# importing one fails with a message naming the flavour instead of CPython's bare "no module".
PLATFORM_ONLY = {
    "machine", "network", "fm", "board_info", "fpioa_manager", "board", "checkNet", "log", "pyb", "sensor", "image", "lcd",
    "Maix", "esp", "esp32", "sim", "dataCall", "net", "modem", "utils", "micropython",
    "umqtt", "urequests", "request", "ntptime", "misc", "queue", "_thread", "omv", "rp2",
}


def missing(name: str, flavour: str) -> ImportError:
    return ImportError(f"no module named {name!r} in atsock's {flavour} flavour: it is a platform module "
                       f"atsock does not stand in for", name=name)
