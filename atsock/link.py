"""One modem connection as the engine keeps it: lifecycle, pending error, and received bytes.

The receive buffer lives here, on the engine's side, so that bytes the modem hands over are kept
whether or not a caller is reading at that moment. It is bounded by back-pressure: the dialect
stops fetching from the modem above ``HIGH_WATER`` buffered bytes (the modem then holds the data
and the peer's TCP window closes) and resumes once a reader takes the buffer below ``LOW_WATER``.

Everything here runs on the engine's loop thread.
"""
import asyncio
from typing import List, Optional

from .errors import os_error
from .lifecycle import SocketLifecycle

HIGH_WATER = 64 * 1024
LOW_WATER = 16 * 1024


class Link:
    def __init__(self, kind: str = "tcp"):
        self.kind = kind
        self.id: Optional[int] = None
        self.life = SocketLifecycle()
        self.rx = bytearray()
        self.eof = False
        self.error: Optional[OSError] = None
        self.remote = None
        self.modem_has_data = False  # the modem announced data not fetched yet
        self.peer_fin = False        # the modem reported the peer's close; EOF once drained
        self._waiters: List[asyncio.Future] = []

    @property
    def state(self) -> str:
        return self.life.state

    # --- the dialect's side -------------------------------------------------------------------
    def deliver(self, data: bytes) -> None:
        if data:
            self.rx += data
            self._wake()

    def finish(self) -> None:
        """The peer sent its last byte and all of them are in ``rx``."""
        self.eof = True
        if self.life.can("peer_finished"):
            self.life.peer_finished()
        self._wake()

    def fail(self, error: OSError) -> None:
        if self.error is None:
            self.error = error
        if self.life.can("lose"):
            self.life.lose()
        self._wake()

    # --- the caller's side --------------------------------------------------------------------
    @property
    def readable(self) -> bool:
        return bool(self.rx) or self.eof or self.error is not None

    def take(self, limit: int) -> bytes:
        """Up to ``limit`` buffered bytes; b"" at EOF; raises the pending error once the buffer is empty."""
        if self.rx:
            data = bytes(self.rx[:limit])
            del self.rx[:limit]
            self._wake()  # a paused drain may resume
            return data
        if self.error is not None:
            raise self.error
        return b""

    async def wait_readable(self) -> None:
        while not self.readable:
            await self.changed()

    async def wait_for_room(self) -> None:
        while len(self.rx) >= LOW_WATER and self.error is None and self.state != "closed":
            await self.changed()

    async def changed(self) -> None:
        future = asyncio.get_running_loop().create_future()
        self._waiters.append(future)
        await future

    def _wake(self) -> None:
        waiters, self._waiters = self._waiters, []
        for future in waiters:
            if not future.done():
                future.set_result(None)

    def release(self) -> None:
        """The caller closed the socket: anything still waiting on it fails with EBADF."""
        if self.life.can("release"):
            self.life.release()
        self.rx.clear()
        if self.error is None:
            self.error = os_error(9)
        self._wake()
