"""What the command line prints for an error: the cause in words, and the hint that fits that cause.

Library errors name ``open_modem``'s settings (``pass pin=...``); here they name the command's own
flags. The ``dialout`` hint goes only with a permission error on the serial port itself, and a
missing port points at ``atsock ports``.
"""
import errno
from typing import Optional

from ..errors import ModemError, docs_link

#: open_modem settings the command line also takes from a file or the environment
OTHER_SOURCES = {"pin": "$ATSOCK_PIN, --pin-file", "key": "$ATSOCK_WIFI_KEY, --key-file",
                 "password": "$ATSOCK_APN_PASSWORD, --password-file"}
MISSING = frozenset({errno.ENOENT, errno.ENODEV, errno.ENXIO})
DENIED = frozenset({errno.EACCES, errno.EPERM})
DIALOUT = ("on Linux, serial ports belong to the 'dialout' group: sudo usermod -aG dialout $USER, then log in "
           f"again ({docs_link('hardware', 'permissions')})")
PORTS = "`atsock ports` lists the serial ports"


def explain(exc: BaseException, port: Optional[str]) -> str:
    """The message for ``exc``; ``port`` is the serial port the command used, if it knows it."""
    if isinstance(exc, ModemError):
        return exc.message(flag)
    code = getattr(exc, "errno", None)
    filename = getattr(exc, "filename", None)
    text = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    if filename is None:
        return text
    text = f"{filename}: {text}"
    if code in MISSING and _is_port(filename, port):
        return f"{text}; {PORTS}"
    if code in DENIED and _is_port(filename, port):
        return f"{text} ({DIALOUT})"
    return text


def flag(setting: str) -> str:
    """An ``open_modem`` setting as this command line spells it: ``pin`` -> ``--pin (or $ATSOCK_PIN...)``."""
    name = "--" + setting.replace("_", "-")
    return f"{name} (or {OTHER_SOURCES[setting]})" if setting in OTHER_SOURCES else name


def _is_port(filename, port: Optional[str]) -> bool:
    """A serial port's error: the command's own port, or a device if the port is not known yet."""
    return str(filename) == str(port) if port else str(filename).startswith("/dev/")
