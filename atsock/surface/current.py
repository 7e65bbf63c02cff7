"""Which modem ``atsock.socket()`` and ``atsock.getaddrinfo()`` use when none is named.

MicroPython code never names a network interface, so module-level calls go to the most recently
opened modem that is still open.
"""
import errno
import threading
from typing import List

from ..errors import os_error

_open_modems: List[object] = []
_lock = threading.Lock()


def opened(modem) -> None:
    with _lock:
        _open_modems.append(modem)


def closed(modem) -> None:
    with _lock:
        if modem in _open_modems:
            _open_modems.remove(modem)


def current_modem():
    """The most recently opened modem that is still open; ``ENETDOWN`` when there is none."""
    with _lock:
        if not _open_modems:
            raise os_error(errno.ENETDOWN, "no modem is open: call atsock.open_modem() first")
        return _open_modems[-1]
