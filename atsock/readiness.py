"""Readiness that other threads and the engine's own coroutines can wait on.

The engine changes connections on its loop thread; callers of ``poll()`` wait in their own threads.
Every change bumps :data:`changes`, and ``poll`` sleeps on it between looks. Coroutines on the loop
wait on one connection's :class:`Notifier`.

For code that hands ``fileno()`` to the standard library's ``select``/``selectors``, a connection
can have a :class:`ReadySignal`: the read end of a pipe that holds one byte exactly while the
socket is readable (data, end of stream, an error, a pending connection), and none otherwise.
"""
import asyncio
import os
import threading
import time
from typing import Callable, List, Optional


class ChangeCounter:
    """A condition variable that every change of any connection notifies."""

    def __init__(self):
        self._cond = threading.Condition()
        self.version = 0

    def bump(self) -> None:
        with self._cond:
            self.version += 1
            self._cond.notify_all()

    def wait_until(self, ready: Callable[[], bool], timeout: Optional[float]) -> bool:
        """Wait until ``ready()`` is true (checked after every change) or ``timeout`` runs out.

        ``ready`` runs without the lock held: it may itself call into the engine (a TLS socket
        decrypts what arrived to know whether it is readable), whose changes bump this counter."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            seen = self.version
            if ready():
                return True
            with self._cond:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return False
                self._cond.wait_for(lambda: self.version != seen, left)


changes = ChangeCounter()


class ReadySignal:
    def __init__(self):
        self._read_fd, self._write_fd = os.pipe()
        os.set_blocking(self._read_fd, False)
        os.set_blocking(self._write_fd, False)
        self._set = False
        self._lock = threading.Lock()

    def fileno(self) -> int:
        return self._read_fd

    def update(self, ready: bool) -> None:
        with self._lock:
            if self._read_fd < 0 or ready == self._set:
                return
            if ready:
                os.write(self._write_fd, b"!")
            else:
                try:
                    os.read(self._read_fd, 16)
                except BlockingIOError:
                    pass
            self._set = ready

    def close(self) -> None:
        with self._lock:
            for fd in (self._read_fd, self._write_fd):
                if fd >= 0:
                    os.close(fd)
            self._read_fd = self._write_fd = -1


class Notifier:
    """Wakes whoever waits on one connection: coroutines on the loop, its descriptor, ``poll``."""

    def __init__(self):
        self._waiters: List[asyncio.Future] = []
        self.signal: Optional[ReadySignal] = None

    async def wait(self) -> None:
        await self.next_change()

    def next_change(self) -> asyncio.Future:
        """A future resolved at the next :meth:`notify` (or by whoever else holds it: a timer)."""
        future = asyncio.get_running_loop().create_future()
        self._waiters.append(future)
        return future

    def notify(self, readable: bool) -> None:
        waiters, self._waiters = self._waiters, []
        for future in waiters:
            if not future.done():
                future.set_result(None)
        if self.signal is not None:
            self.signal.update(readable)
        changes.bump()

    def descriptor(self, readable: bool) -> int:
        if self.signal is None:
            self.signal = ReadySignal()
            self.signal.update(readable)
        return self.signal.fileno()

    def close(self) -> None:
        if self.signal is not None:
            self.signal.close()
