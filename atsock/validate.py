"""What counts as a host name, an IP literal and a port, before any of it reaches a modem.

(Whatever goes into a command line is checked again, character by character, by :mod:`atsock.atcmd`.)
"""
import ipaddress
import re
from typing import Optional

_HOST_LABEL = re.compile(r"^[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?$")


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
        raise ValueError(f"{value!r} is not a valid host name")
    return name


def ip_literal(value: str) -> Optional[str]:
    """The normalised address if ``value`` is an IPv4 or IPv6 literal, else None."""
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return None


def port_number(value) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 65535:
        raise ValueError(f"port must be an int in 0..65535, not {value!r}")
    return value
