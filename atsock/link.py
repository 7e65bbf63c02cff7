"""One modem connection as the engine keeps it: lifecycle, pending error, and what was received.

A TCP stream keeps bytes (``rx``), a UDP service keeps whole datagrams with their senders
(``datagrams``), a listener keeps accepted connections not yet taken by ``accept()``
(``incoming``). They live here, on the engine's side, so that what the modem hands over is kept
whether or not a caller is reading at that moment. Receiving is bounded by back-pressure: the
dialect stops fetching from the modem above ``HIGH_WATER`` buffered bytes (the modem then holds
the data and the peer's TCP window closes) and resumes once a reader takes it below ``LOW_WATER``.

Everything that changes a link runs on the engine's loop thread; every change is announced to
``poll`` and to the link's descriptor, if one was asked for.
"""
import asyncio
import errno
from collections import deque
from typing import Deque, List, Optional, Tuple

from . import readiness
from .errors import os_error
from .lifecycle import SocketLifecycle

HIGH_WATER = 64 * 1024
LOW_WATER = 16 * 1024

POLLIN, POLLOUT, POLLERR, POLLHUP, POLLNVAL = 0x001, 0x004, 0x008, 0x010, 0x020

Address = Tuple[str, int]


class Link:
    def __init__(self, kind: str = "tcp"):
        self.kind = kind                  # "tcp", "udp" or "listener" once opened
        self.id: Optional[int] = None
        self.life = SocketLifecycle()
        self.rx = bytearray()
        self.datagrams: Deque[Tuple[bytes, Address]] = deque()
        self.datagram_bytes = 0
        self.incoming: Deque["Link"] = deque()
        self.backlog = 1
        self.eof = False
        self.error: Optional[OSError] = None
        self.connect_error: Optional[OSError] = None  # verdict of a non-blocking connect
        self.remote: Optional[Address] = None
        self.local_port = 0
        self.keepalive: Optional[int] = None  # TCP keepalive idle minutes asked for (0: off)
        self.modem_has_data = False  # the modem announced data not fetched yet
        self.peer_fin = False        # the modem reported the peer's close; EOF once drained
        self.signal: Optional[readiness.ReadySignal] = None
        self._waiters: List[asyncio.Future] = []
        self.life.add_listener(lambda old, new: self.changed())

    @property
    def state(self) -> str:
        return self.life.state

    @property
    def buffered(self) -> int:
        return len(self.rx) + self.datagram_bytes

    # --- the dialect's side -------------------------------------------------------------------
    def deliver(self, data: bytes) -> None:
        if data:
            self.rx += data
            self.changed()

    def deliver_datagram(self, data: bytes, sender: Address) -> None:
        self.datagrams.append((data, sender))
        self.datagram_bytes += len(data)
        self.changed()

    def finish(self) -> None:
        """The peer sent its last byte and all of them are in ``rx``."""
        self.eof = True
        if self.life.can("peer_finished"):
            self.life.peer_finished()
        self.changed()

    def fail(self, error: OSError) -> None:
        if self.error is None:
            self.error = error
        if self.life.can("lose"):
            self.life.lose()
        self.changed()

    # --- the caller's side --------------------------------------------------------------------
    @property
    def readable(self) -> bool:
        if self.error is not None:
            return True
        if self.kind == "udp":
            return bool(self.datagrams)
        if self.kind == "listener":
            return bool(self.incoming)
        return bool(self.rx) or self.eof

    def take(self, limit: int) -> bytes:
        """Up to ``limit`` buffered bytes; b"" at EOF; raises the pending error once the buffer is empty."""
        if self.rx:
            data = bytes(self.rx[:limit])
            del self.rx[:limit]
            self.changed()  # a paused drain may resume
            return data
        if self.error is not None:
            raise self.error
        return b""

    def take_datagram(self) -> Tuple[bytes, Address]:
        if self.datagrams:
            data, sender = self.datagrams.popleft()
            self.datagram_bytes -= len(data)
            self.changed()
            return data, sender
        raise self.error or os_error(errno.EAGAIN)

    def unread(self, data: bytes) -> None:
        """Put gathered bytes back in front: a read that timed out loses nothing."""
        if data:
            self.rx[0:0] = data
            self.changed()

    def poll_mask(self) -> int:
        """MicroPython's poll flags for this link's state (see ``atsock.select``)."""
        state = self.state
        if state == "closed":
            return POLLNVAL
        if state == "fresh":
            return POLLOUT | POLLHUP | (POLLERR if self.connect_error else 0)
        if state == "connecting":
            return 0
        mask = POLLIN if self.readable else 0
        if state == "failed":
            return mask | POLLERR | POLLHUP
        if state in ("connected", "peer_closed", "bound"):
            mask |= POLLOUT
        return mask

    async def wait_readable(self) -> None:
        while not self.readable:
            await self.wait_change()

    async def wait_settled(self) -> None:
        """Until a pending open (connect, listen, bind) has its verdict."""
        while self.state == "connecting":
            await self.wait_change()

    async def wait_for_room(self) -> None:
        while self.buffered >= LOW_WATER and self.error is None and self.state != "closed":
            await self.wait_change()

    async def wait_change(self) -> None:
        future = asyncio.get_running_loop().create_future()
        self._waiters.append(future)
        await future

    def changed(self) -> None:
        waiters, self._waiters = self._waiters, []
        for future in waiters:
            if not future.done():
                future.set_result(None)
        if self.signal is not None:
            self.signal.update(self.state in ("closed", "failed") or self.readable)
        readiness.changes.bump()

    def release(self) -> None:
        """The caller closed the socket: anything still waiting on it fails with EBADF."""
        if self.life.can("release"):
            self.life.release()
        self.rx.clear()
        self.datagrams.clear()
        self.datagram_bytes = 0
        if self.error is None:
            self.error = os_error(errno.EBADF)
        self.changed()
