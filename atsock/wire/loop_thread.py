"""An asyncio event loop on a background thread, and the bridge the blocking API crosses.

The engine lives on this loop; ``socket.recv()`` in a user thread becomes ``run(coro)``, which
schedules the coroutine on the loop and waits for its result. Calling ``run`` from the loop thread
itself would wait forever, so it is refused. ``submit(coro)`` schedules without waiting: the
asyncio streams (:mod:`atsock.asyncio`) await its future from their own loop.
"""
import asyncio
import concurrent.futures
import threading
from typing import Any, Awaitable, Optional


class LoopThread:
    def __init__(self, name: str = "atsock-engine"):
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._serve, name=name, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()
        pending = asyncio.all_tasks(self.loop)
        for task in pending:
            task.cancel()
        if pending:
            self.loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        self.loop.close()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive() and not self.loop.is_closed()

    def run(self, coro: Awaitable[Any], timeout: Optional[float] = None) -> Any:
        if threading.current_thread() is self._thread:
            raise RuntimeError("blocking call made from the engine's own thread")
        future = self.submit(coro)
        try:
            return future.result(timeout)
        except BaseException:
            future.cancel()
            raise

    def submit(self, coro: Awaitable[Any]) -> concurrent.futures.Future:
        """Start ``coro`` on the loop; its future can be waited on from any thread or loop."""
        if not self.alive:
            coro.close()
            raise OSError(9, "modem is closed")  # EBADF
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def call_soon(self, callback, *args) -> None:
        if self.alive:
            self.loop.call_soon_threadsafe(callback, *args)

    def stop(self) -> None:
        if self.alive:
            self.loop.call_soon_threadsafe(self.loop.stop)
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout=5)
