"""Caller arguments checked as CPython's ``socket`` checks them, before anything reaches a modem.

Types and ranges raise what CPython raises (``TypeError``, ``ValueError``, ``OverflowError``),
so programs and their tests see the same failures on a modem socket as on a host socket; each
number comes out as a plain ``int`` (``operator.index``), so no ``int`` subclass can format
itself into something else later. One deliberate difference: ``str`` data is accepted and sent
as UTF-8, as MicroPython (and QuecPython's documented examples) do.

The checks follow the CPython that runs them. Where CPython's own checks changed between the
versions atsock supports (3.11 to 3.13), the change is named once, below, and taken from
``sys.version_info``: a program sees on a modem socket what it sees on a host socket of the same
Python.
"""
import errno
import math
import operator
import sys
from typing import Optional, Tuple

INT_BITS, LONG_BITS = 32, 64  # C int and long on the platforms CPython's socket module is built for
# CPython keeps a timeout in nanoseconds in a signed 64-bit integer
MAX_TIMEOUT_NS = 2 ** 63 - 1

# --- what changed between CPython versions (the only place atsock asks which one runs) ------------
# 3.12: setblocking() reads its flag as any object's truth (PyObject_IsTrue), so None, 1.5 and "x"
# pass; 3.11 wanted an integer that fits a C long
FLAG_IS_TRUTH = sys.version_info >= (3, 12)
# 3.13: the nanosecond type made public (PyTime_t), and named so in its overflow message
PYTIME_T = "PyTime_t" if sys.version_info >= (3, 13) else "_PyTime_t"


def _plain(value) -> int:
    return int(operator.index(value))


def c_int(value, bits: int = INT_BITS) -> int:
    """An integer that fits a signed C integer of ``bits`` (flags, levels, options, backlog)."""
    number = _plain(value)
    if number >= 2 ** (bits - 1):
        raise OverflowError("signed integer is greater than maximum" if bits == INT_BITS
                            else "Python int too large to convert to C long")
    if number < -2 ** (bits - 1):
        raise OverflowError("signed integer is less than minimum" if bits == INT_BITS
                            else "Python int too large to convert to C long")
    return number


def data_bytes(data, method: str) -> bytes:
    """Bytes from any contiguous bytes-like object (or a str, as MicroPython allows)."""
    if isinstance(data, str):
        return data.encode()
    try:
        view = memoryview(data)
    except TypeError:
        raise TypeError(f"{method}() argument 1 must be a bytes-like object, not {type(data).__name__!r}") from None
    if not view.c_contiguous:
        raise BufferError("memoryview: underlying buffer is not C-contiguous")
    return view.tobytes()


def writable(buffer, method: str) -> memoryview:
    """A byte view of a read-write, contiguous buffer (``recv_into`` and friends)."""
    try:
        view = memoryview(buffer)
    except TypeError:
        view = None
    if view is None or view.readonly or not view.c_contiguous:
        raise TypeError(f"{method}() argument 1 must be read-write bytes-like object, not {type(buffer).__name__}")
    return view.cast("B") if view.format != "B" or view.ndim != 1 else view


def ssize(value) -> int:
    """An integer that fits ``ssize_t`` (a size, not yet checked for sign: CPython parses every
    argument before it checks any value)."""
    number = _plain(value)
    if number > sys.maxsize or number < -sys.maxsize - 1:
        raise OverflowError("Python int too large to convert to C ssize_t")
    return number


def not_negative(number: int, method: str) -> int:
    if number < 0:
        raise ValueError(f"negative buffersize in {method}")
    return number


def size(value, method: str) -> int:
    """A buffer size: an integer that fits ``ssize_t``, not negative."""
    return not_negative(ssize(value), method)


def nbytes(number: int, buffer_len: int, method: str) -> int:
    """``recv_into``'s byte count: 0 means the whole buffer, more than the buffer is refused."""
    if not_negative(number, method) > buffer_len:
        raise ValueError("buffer too small for requested bytes")
    return number or buffer_len


def flags(value) -> int:
    return c_int(value)


def flag(value) -> bool:
    """``setblocking``'s flag: any object's truth from 3.12 on (what its ``__bool__`` raises, if it
    raises), before that an integer that fits a C long."""
    return bool(value) if FLAG_IS_TRUTH else bool(c_int(value, LONG_BITS))


def timeout(value) -> Optional[float]:
    """None, or seconds from a float or an integer, checked in CPython's order: NaN, then a value
    too large for its nanosecond clock (either sign), then a negative one. The result is rounded
    away from zero to a whole nanosecond, as CPython stores it (``gettimeout`` gives the same number)."""
    if value is None:
        return None
    if isinstance(value, float):
        if math.isnan(value):
            raise ValueError("Invalid value NaN (not a number)")
        scaled = value * 1e9
        if not -MAX_TIMEOUT_NS - 1 <= scaled < MAX_TIMEOUT_NS + 1:
            raise OverflowError("timestamp out of range for platform time_t")
        nanoseconds = math.ceil(scaled) if scaled >= 0 else math.floor(scaled)  # away from zero
    else:
        nanoseconds = _plain(value) * 10 ** 9  # TypeError for str, Fraction, objects with __float__...
        if not -MAX_TIMEOUT_NS - 1 <= nanoseconds <= MAX_TIMEOUT_NS:
            raise OverflowError(f"timestamp too large to convert to C {PYTIME_T}")
    if nanoseconds < 0:
        raise ValueError("Timeout value out of range")
    return float(nanoseconds) / 1e9 if nanoseconds % 10 ** 9 else float(nanoseconds // 10 ** 9)


def backlog(value) -> int:
    return c_int(value)


def option_value(value):
    """``setsockopt``'s value: an integer that fits a C int, else a bytes-like object (as CPython
    tries them, so an integer out of range ends in the bytes-like ``TypeError``)."""
    try:
        return c_int(value)
    except (TypeError, OverflowError):
        pass
    try:
        return memoryview(value).tobytes()
    except TypeError:
        raise TypeError(f"a bytes-like object is required, not {type(value).__name__!r}") from None


def option_int(value) -> int:
    """An option's integer from what ``option_value`` gave: a byte value needs a C int's 4 bytes
    (``EINVAL`` otherwise, as the kernel says once the socket itself was found good)."""
    if isinstance(value, int):
        return value
    if len(value) < 4:
        raise OSError(errno.EINVAL, "an integer socket option takes 4 bytes")
    return int.from_bytes(value[:4], sys.byteorder, signed=True)


def option_buflen(value) -> int:
    """``getsockopt``'s buflen: 0 (an int comes back) or 1..1024 (bytes come back)."""
    number = c_int(value)
    if not 0 <= number <= 1024:
        raise OSError(errno.EINVAL, "getsockopt buflen out of range")
    return number


def port(number: int, method: str) -> int:
    """A port from :func:`address` in range: checked after the host, as CPython does."""
    if not 0 <= number <= 65535:
        raise OverflowError(f"{method}(): port must be 0-65535.")
    return number


def address(value, method: str, family_name: str = "AF_INET") -> Tuple[str, int, tuple]:
    """``(host, port)`` or, for IPv6, ``(host, port[, flowinfo[, scope_id]])``: host as str, the
    port a plain C int (its range is checked by :func:`port` once the host was found good), and
    the rest. A list is taken as MicroPython takes it (OpenMV's examples bind to ``["", port]``)."""
    if isinstance(value, list):
        value = tuple(value)
    if not isinstance(value, tuple):
        raise TypeError(f"{method}(): {family_name} address must be tuple, not {type(value).__name__}")
    if family_name == "AF_INET" and len(value) != 2 or not 2 <= len(value) <= 4:
        raise TypeError(f"{family_name} address must be a pair (host, port)" if family_name == "AF_INET"
                        else f"{family_name} address must be a tuple (host, port[, flowinfo[, scopeid]])")
    host = value[0]
    if not isinstance(host, (str, bytes, bytearray)):
        raise TypeError(f"str, bytes or bytearray expected, not {type(host).__name__}")
    if ("\x00" if isinstance(host, str) else b"\x00") in host:
        raise TypeError("host name must not contain null character")
    if isinstance(host, str) and not host.isascii():
        try:
            host.encode("idna")  # CPython encodes a non-ASCII host before it looks at the port
        except UnicodeError:
            raise TypeError("encoding of hostname failed") from None
    number = c_int(value[1])  # TypeError for str, float, None...
    extra = tuple(_plain(v) for v in value[2:])
    if not isinstance(host, str):
        try:
            host = bytes(host).decode("ascii")
        except UnicodeDecodeError:
            raise ValueError(f"host name {host!r} is not ASCII") from None
    return host, number, extra
