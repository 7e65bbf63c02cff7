"""What counts as a host name, an IP literal and a port, before any of it reaches a modem.

(Whatever goes into a command line is checked again, character by character, by :mod:`atsock.wire.atcmd`.)
"""
import ipaddress
import operator
import re
from typing import Optional

_HOST_LABEL = re.compile(r"^[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?$")
# an IPv6 zone: an interface index, or a name as Linux allows one (at most 15 characters)
_SCOPE_ID = re.compile(r"^(?:[0-9]{1,10}|[A-Za-z][A-Za-z0-9_.-]{0,14})$")


def hostname(value) -> str:
    if isinstance(value, bytes):
        try:
            value = value.decode("ascii")
        except UnicodeDecodeError:
            raise ValueError(f"host name {value!r} is not ASCII") from None
    if not isinstance(value, str):
        raise ValueError(f"host must be a str, not {type(value).__name__}")
    name = value[:-1] if value.endswith(".") else value
    if not name or len(name) > 253 or not all(_HOST_LABEL.match(label) for label in name.split(".")):
        raise ValueError(f"{value!r} is neither an IP address nor a valid host name")
    return name


def split_scope(value: str):
    """``"fe80::1%eth0"`` -> ``("fe80::1", "eth0")``; ``("::1", None)`` without a zone."""
    address, percent, scope = value.partition("%")
    return address, (scope if percent else None)


def ip_literal(value) -> Optional[str]:
    """The normalised address if ``value`` is an IPv4 or IPv6 literal, else None.

    ``ipaddress`` takes anything after an IPv6 ``%`` as its zone, quotes and line ends included;
    here a zone must be an interface number or name, or the text is no address at all (and, as it
    holds a ``%``, no host name either).
    """
    if not isinstance(value, str):
        return None
    scope = split_scope(value)[1]
    if scope is not None and (not _SCOPE_ID.match(scope) or scope.isdigit() and int(scope) > 0xFFFFFFFF):
        return None
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return None


def scope_id(value) -> int:
    """An IPv6 scope id from an address tuple: a plain ``int`` that fits its 32 bits (CPython
    would wrap a negative or larger one around; here it is refused)."""
    number = int(operator.index(value))
    if not 0 <= number <= 0xFFFFFFFF:
        raise OverflowError(f"scope id must be 0-4294967295, not {number}")
    return number


def port_number(value) -> int:
    """A plain ``int`` in 0..65535 (an ``int`` subclass is made plain: it formats as digits)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"port must be an int in 0..65535, not {value!r}")
    number = int(operator.index(value))
    if not 0 <= number <= 65535:
        raise ValueError(f"port must be an int in 0..65535, not {number}")
    return number
