"""Caller arguments checked as CPython's ``socket`` checks them, before anything reaches a modem.

Types and ranges raise what CPython raises (``TypeError``, ``ValueError``, ``OverflowError``),
so programs and their tests see the same failures on a modem socket as on a host socket. One
deliberate difference: ``str`` data is accepted and sent as UTF-8, as MicroPython (and QuecPython's
documented examples) do.
"""
import math
import operator
from typing import Optional, Tuple


def data_bytes(data, method: str) -> bytes:
    """Bytes from any bytes-like object (or a str, as MicroPython allows)."""
    if isinstance(data, str):
        return data.encode()
    try:
        return memoryview(data).cast("B").tobytes()
    except TypeError:
        raise TypeError(f"{method}() argument 1 must be a bytes-like object, not {type(data).__name__!r}") from None


def size(value, method: str) -> int:
    """A buffer size: an integer, not negative, not absurd."""
    number = operator.index(value)
    if number < 0:
        raise ValueError(f"negative buffersize in {method}")
    if number > 2 ** 31 - 1:
        raise OverflowError(f"{method}() buffer size too large")
    return number


def flags(value) -> int:
    return operator.index(value)


def timeout(value) -> Optional[float]:
    if value is None:
        return None
    if isinstance(value, str) or not isinstance(value, (int, float)) and not hasattr(value, "__float__"):
        raise TypeError(f"timeout must be a number or None, not {type(value).__name__}")
    seconds = float(value)
    if math.isnan(seconds):
        raise ValueError("Invalid value NaN (not a number)")
    if seconds < 0:
        raise ValueError("Timeout value out of range")
    if math.isinf(seconds) or seconds > 2 ** 32:
        raise OverflowError("timeout too large")
    return seconds


def backlog(value) -> int:
    return operator.index(value)


def port(value, method: str) -> int:
    number = operator.index(value)  # TypeError for str, float, None...
    number = int(number)            # a plain int: no subclass formats itself into a command
    if not 0 <= number <= 65535:
        raise OverflowError(f"{method}(): port must be 0-65535.")
    return number


def address(value, method: str, family_name: str = "AF_INET") -> Tuple[str, int, tuple]:
    """``(host, port)`` or, for IPv6, ``(host, port[, flowinfo[, scope_id]])``: host as str, a
    plain port, and the rest. A list is taken as MicroPython takes it (OpenMV's examples bind to
    ``["", port]``)."""
    if isinstance(value, list):
        value = tuple(value)
    if not isinstance(value, tuple):
        raise TypeError(f"{method}(): {family_name} address must be tuple, not {type(value).__name__}")
    if family_name == "AF_INET" and len(value) != 2 or not 2 <= len(value) <= 4:
        raise TypeError(f"{family_name} address must be a pair (host, port)" if family_name == "AF_INET"
                        else f"{family_name} address must be a tuple (host, port[, flowinfo[, scopeid]])")
    host = value[0]
    if isinstance(host, (bytes, bytearray)):
        try:
            host = bytes(host).decode("ascii")
        except UnicodeDecodeError:
            raise ValueError(f"host name {host!r} is not ASCII") from None
    elif not isinstance(host, str):
        raise TypeError(f"str, bytes or bytearray expected, not {type(host).__name__}")
    if "\x00" in host:
        raise ValueError("host name must not contain null character")
    extra = tuple(operator.index(v) for v in value[2:])
    return host, port(value[1], method), extra
