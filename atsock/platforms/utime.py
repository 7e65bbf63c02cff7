"""MicroPython's ``utime``: CPython's ``time`` plus the ``ticks_*`` and ``sleep_ms``/``sleep_us`` calls.

Ticks are milliseconds (or microseconds) of a monotonic clock, wrapping like MicroPython's at
2**30, so that code which compares them only through ``ticks_diff`` behaves as on the board.
"""
import time as _time
from time import *  # noqa: F401,F403 - MicroPython's time is a superset of what programs use from CPython's

TICKS_PERIOD = 1 << 30
_HALF = TICKS_PERIOD // 2


def ticks_ms() -> int:
    return _time.monotonic_ns() // 1_000_000 % TICKS_PERIOD


def ticks_us() -> int:
    return _time.monotonic_ns() // 1_000 % TICKS_PERIOD


def ticks_cpu() -> int:
    return ticks_us()


def ticks_add(ticks: int, delta: int) -> int:
    """As MicroPython's: ``delta`` an int within half a period either way, else TypeError or
    OverflowError (so that ``ticks_diff`` of the result gives ``delta`` back)."""
    if not isinstance(delta, int):
        raise TypeError(f"can't convert {type(delta).__name__} to int")
    if not -_HALF < delta < _HALF:
        raise OverflowError("ticks interval overflow")
    return (ticks + delta) % TICKS_PERIOD


def ticks_diff(end: int, start: int) -> int:
    """``end - start`` in the wrapped ring, signed: right as long as the two are within half a period."""
    return (end - start + _HALF) % TICKS_PERIOD - _HALF


def sleep_ms(ms: int) -> None:
    _time.sleep(max(ms, 0) / 1000)


def sleep_us(us: int) -> None:
    _time.sleep(max(us, 0) / 1_000_000)
