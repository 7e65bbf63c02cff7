"""What MicroPython's ``asyncio`` has and CPython's has not: millisecond sleeps and time-outs, and
``ThreadSafeFlag`` (set from an interrupt handler there, from any thread here)."""
import asyncio
import threading
from typing import Optional


TICKS_HALF_PERIOD = 1 << 29  # MicroPython's ticks wrap at 2**30; an interval must stay below half of it


def sleep_ms(t: int):
    """Sleep ``t`` milliseconds. As on MicroPython, where the deadline is ``ticks_add(ticks(), t)``,
    a ``t`` from 2**29 on raises OverflowError and a float TypeError when called; below 0 is 0."""
    if not isinstance(t, int):
        raise TypeError(f"can't convert {type(t).__name__} to int")
    if t >= TICKS_HALF_PERIOD:
        raise OverflowError("ticks interval overflow")
    return asyncio.sleep(max(0, t) / 1000)


async def wait_for_ms(awaitable, timeout: int):
    return await asyncio.wait_for(awaitable, timeout / 1000)


class ThreadSafeFlag:
    """One task waits, anything sets; a set flag is cleared by the wait that sees it."""

    def __init__(self):
        self._lock = threading.Lock()
        self._set = False
        self._waiter: Optional[asyncio.Future] = None

    def set(self) -> None:
        with self._lock:
            self._set = True
            waiter = self._waiter
        if waiter is not None:
            waiter.get_loop().call_soon_threadsafe(_wake, waiter)

    def clear(self) -> None:
        with self._lock:
            self._set = False

    async def wait(self) -> None:
        with self._lock:
            if self._set:
                self._set = False
                return
            if self._waiter is not None:
                raise RuntimeError("a ThreadSafeFlag has one waiter at a time")
            self._waiter = waiter = asyncio.get_running_loop().create_future()
        try:
            await waiter
        finally:
            with self._lock:
                self._waiter = None
                self._set = False


def _wake(waiter: asyncio.Future) -> None:
    if not waiter.done():
        waiter.set_result(None)
