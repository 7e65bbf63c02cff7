"""Checks on every caller-supplied string before it is written into an AT command.

A quote, CR or LF inside an APN or a host name would end the string or the command early and let
the rest be read as a new command. Such input is refused with ``ValueError`` before a byte is
written. Dialects that can escape characters (ESP-AT) do so on top of :func:`printable_ascii`.
"""
import ipaddress
import re
from typing import Optional

_HOST_LABEL = re.compile(r"^[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?$")


def printable_ascii(value: str, what: str, max_len: int) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{what} must be a str, not {type(value).__name__}")
    if len(value) > max_len:
        raise ValueError(f"{what} is longer than {max_len} characters")
    for ch in value:
        if not " " <= ch <= "~":
            raise ValueError(f"{what} contains {ch!r}: only printable ASCII can go into an AT command")
    return value


def quoted_field(value: str, what: str, max_len: int) -> str:
    """A value for a double-quoted AT parameter on a modem that has no escape for the quote."""
    printable_ascii(value, what, max_len)
    if '"' in value:
        raise ValueError(f"{what} contains a double quote, which this modem cannot take")
    return value


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
