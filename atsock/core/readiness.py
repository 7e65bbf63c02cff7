"""Readiness that other threads and the engine's own coroutines can wait on.

The engine changes connections on its loop thread; callers of ``poll()`` wait in their own threads.
Every change bumps :data:`changes`, and ``poll`` sleeps on it between looks. Coroutines on the loop
wait on one connection's :class:`Notifier`.

For code that hands ``fileno()`` to the standard library (``select``, ``selectors``, an asyncio
loop's ``add_reader``/``add_writer``/``sock_*``), a connection can have a :class:`ReadySignal`: one
end of a socket pair whose readiness mirrors the connection's. It is readable while data, end of
stream, a pending connection or an error waits, and writable while a send would return at once.
"""
import asyncio
import socket
import threading
import time
from typing import Callable, List, Optional, Tuple

Readiness = Callable[[], Tuple[bool, bool]]  # (readable, writable) now


class ChangeCounter:
    """A condition variable that every change of any connection notifies.

    A change costs the engine's thread a lock and a notification only while some thread waits: a
    waiter counts itself in under the lock before it looks at the version a last time, and a change
    raises the version before it looks at the count, so one of the two always sees the other."""

    def __init__(self):
        self._cond = threading.Condition()
        self.version = 0
        self._waiting = 0

    def bump(self) -> None:
        self.version += 1
        if self._waiting:
            with self._cond:
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
                self._waiting += 1
                try:
                    self._cond.wait_for(lambda: self.version != seen, left)
                finally:
                    self._waiting -= 1


changes = ChangeCounter()


class ReadySignal:
    """A real descriptor whose readiness is set from here: one end (``fileno()``) of a socket pair.

    Readable while one byte from the other end waits in it. Writable while its own send buffer has
    room: to make it unwritable it sends to the other end until the kernel refuses more (a couple of
    calls, its buffer being the smallest the kernel allows), and the other end reads it all to free
    it. A pipe cannot do this: its read end never reports POLLOUT.
    """

    def __init__(self):
        self._outer, self._inner = socket.socketpair()
        for end in (self._outer, self._inner):
            end.setblocking(False)
        self._outer.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1)  # the kernel's minimum
        self._readable, self._writable = False, True
        self._lock = threading.Lock()

    def fileno(self) -> int:
        outer = self._outer
        return -1 if outer is None else outer.fileno()

    def refresh(self, readiness: Readiness) -> None:
        """Make the descriptor tell what ``readiness()`` says now. It is asked under the lock, so
        that of two threads refreshing at once the later look wins."""
        with self._lock:
            if self._outer is None:
                return
            readable, writable = readiness()
            if readable != self._readable:
                if readable:
                    self._inner.send(b"!")
                else:
                    _empty(self._outer)
                self._readable = readable
            if writable != self._writable:
                if writable:
                    _empty(self._inner)
                else:
                    _fill(self._outer)
                self._writable = writable

    def close(self) -> None:
        with self._lock:
            if self._outer is not None:
                self._outer.close()
                self._inner.close()
                self._outer = self._inner = None


_FILLER = bytes(4096)


def _fill(end: socket.socket) -> None:
    while True:
        try:
            end.send(_FILLER)
        except BlockingIOError:
            return


def _empty(end: socket.socket) -> None:
    while True:
        try:
            if not end.recv(65536):
                return
        except BlockingIOError:
            return


class Notifier:
    """Wakes whoever waits on one connection: coroutines on the loop, its descriptor, ``poll``."""

    def __init__(self, readiness: Readiness):
        self._readiness = readiness
        self._waiters: List[asyncio.Future] = []
        self._awaiting: List[Tuple[asyncio.Future, Callable[[], bool]]] = []  # (future, until) of next_change
        self.signal: Optional[ReadySignal] = None

    async def wait(self) -> None:
        await self.next_change()

    def next_change(self, until: Optional[Callable[[], bool]] = None) -> asyncio.Future:
        """A future resolved at the next :meth:`notify` (or by whoever else holds it: a timer); with
        ``until``, at the first one after which ``until()`` holds: a reader that wants a certain
        amount is not woken for every piece on the way to it."""
        future = asyncio.get_running_loop().create_future()
        if until is None:
            self._waiters.append(future)
        else:
            self._awaiting.append((future, until))
        return future

    def notify(self) -> None:
        if self._waiters:
            waiters, self._waiters = self._waiters, []
            for future in waiters:
                if not future.done():
                    future.set_result(None)
        if self._awaiting:
            waiting, self._awaiting = self._awaiting, []
            for future, until in waiting:
                if future.done():
                    continue
                if until():
                    future.set_result(None)
                else:
                    self._awaiting.append((future, until))
        if self.signal is not None:
            self.signal.refresh(self._readiness)
        changes.bump()

    def descriptor(self) -> int:
        """The connection's descriptor, made on first use (most sockets never need one)."""
        if self.signal is None:
            self.signal = ReadySignal()
            self.signal.refresh(self._readiness)
        return self.signal.fileno()

    def close(self) -> None:
        if self.signal is not None:
            self.signal.close()

