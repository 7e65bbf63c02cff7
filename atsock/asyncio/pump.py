"""Receiving for the asyncio transports: a loop on the engine's side that takes what a connection
holds and hands it to the caller's loop, one ``call_soon_threadsafe`` per piece.

A read that crossed to the engine and back for every piece would cost two thread switches and a
task per arrival; the pump crosses once, in one direction. Under load pieces grow by themselves:
whatever arrived while the last one was being handed over is taken at once. ``pause()`` (from the
caller's thread) stops taking after the piece under way, and so does a caller's loop that has not
run what it was handed (a busy or blocked loop); the engine then stops fetching once its own
buffer is full, and the module holds the rest.
"""
import asyncio
import logging
import threading
from typing import Any, Awaitable, Callable, Optional

from ..modem import public_error

log = logging.getLogger("atsock.asyncio")

Deliver = Callable[[Any, Optional[BaseException]], None]
IN_TRANSIT = 256 * 1024  # bytes handed over that the caller's loop has not run yet: then the pump waits


class ReadPump:
    def __init__(self, modem, receive: Callable[[], Awaitable[Any]], deliver: Deliver,
                 size: Callable[[Any], int] = len, last: Callable[[Any], bool] = lambda result: False):
        self._modem = modem
        self._receive = receive      # a coroutine (on the engine) for the next piece
        self._deliver = deliver      # deliver(result, error), called on the caller's loop
        self._size = size            # bytes in a result
        self._last = last            # whether a result ends the stream
        self._caller = asyncio.get_running_loop()
        self._engine: Optional[asyncio.AbstractEventLoop] = None
        self._wakeup: Optional[asyncio.Event] = None
        self._lock = threading.Lock()
        self._paused = False
        self._in_transit = 0         # handed over, not yet taken by the caller's loop

    def start(self) -> None:
        running = self._modem.submit(self._run())
        running.add_done_callback(lambda done: done.cancelled() or done.exception())

    def pause(self) -> None:
        self._paused = True

    def resume(self) -> None:
        self._paused = False
        self._wake()

    def taken(self, result) -> None:
        """The caller's loop has a piece now (call it from there): bytes in transit go down."""
        size = self._size(result) if result else 0
        with self._lock:
            was_full = self._in_transit >= IN_TRANSIT
            self._in_transit -= size
            wake = was_full and self._in_transit < IN_TRANSIT
        if wake:
            self._wake()

    def _wake(self) -> None:
        if self._engine is not None:
            self._engine.call_soon_threadsafe(self._wakeup.set)

    def _may_take(self) -> bool:
        with self._lock:
            return not self._paused and self._in_transit < IN_TRANSIT

    async def _run(self) -> None:
        self._wakeup = asyncio.Event()
        self._engine = asyncio.get_running_loop()
        while True:
            if not self._may_take():
                self._wakeup.clear()
                if not self._may_take():  # (looked at again: a resume may have come in between)
                    await self._wakeup.wait()
                continue
            try:
                result, error = await self._receive(), None
            except Exception as exc:
                result, error = None, public_error(exc)
            if result:
                with self._lock:
                    self._in_transit += self._size(result)
            if not self._hand_over(result, error) or error is not None or self._last(result):
                return

    def _hand_over(self, result, error) -> bool:
        try:
            self._caller.call_soon_threadsafe(self._deliver, result, error)
            return True
        except RuntimeError:  # the caller's loop is closed: nobody is reading any more
            log.debug("reading stopped: the caller's event loop is closed")
            return False
