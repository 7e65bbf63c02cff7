"""``select``/``uselect`` for atsock sockets: ``poll()`` objects and ``select()``, as in MicroPython.

Flags keep MicroPython's meanings: a fresh unconnected socket polls as ``POLLOUT | POLLHUP``, a
connected one as ``POLLOUT`` plus ``POLLIN`` while data (or end of stream) waits, a listener as
``POLLIN`` while a connection waits, a failed one as ``POLLERR | POLLHUP``, a closed one as
``POLLNVAL``. ``POLLERR``, ``POLLHUP`` and ``POLLNVAL`` are reported whether asked for or not.
Objects that are not atsock sockets but have a descriptor (``sys.stdin``, an OS socket) can be
polled in the same set.
"""
import select as _std_select
from typing import Dict, Iterator, List, Optional, Tuple

from .core.connection import Connection
from .core.lifecycle import SocketState
from .core.readiness import changes

__all__ = ["poll", "select", "POLLIN", "POLLOUT", "POLLERR", "POLLHUP", "POLLNVAL"]

POLLIN, POLLOUT, POLLERR, POLLHUP, POLLNVAL = 0x001, 0x004, 0x008, 0x010, 0x020
_ALWAYS = POLLERR | POLLHUP | POLLNVAL
_OS_SLICE = 0.01  # how often a set with plain OS descriptors in it is looked at again


def poll_mask(conn: Connection) -> int:
    """MicroPython's poll flags for a connection's state."""
    state = conn.state
    if state is SocketState.CLOSED:
        return POLLNVAL
    if state is SocketState.FRESH:
        return POLLOUT | POLLHUP | (POLLERR if conn.connect_error else 0)
    if state is SocketState.OPENING:
        return 0
    mask = POLLIN if conn.readable else 0
    if state is SocketState.FAILED:
        return mask | POLLERR | POLLHUP
    if state in (SocketState.CONNECTED, SocketState.PEER_CLOSED, SocketState.BOUND):
        mask |= POLLOUT
    return mask


def _mask_of(obj) -> int:
    own = getattr(obj, "_poll_mask", None)
    if own is not None:
        return own()
    fd = obj if isinstance(obj, int) else obj.fileno()
    if fd < 0:
        return POLLNVAL
    probe = _std_select.poll()
    probe.register(fd, _std_select.POLLIN | _std_select.POLLOUT)
    events = probe.poll(0)
    return events[0][1] if events else 0


class poll:
    """MicroPython's poll object: register atsock sockets (or anything with a descriptor), then ``poll()``
    or ``ipoll()`` for the ones ready."""
    def __init__(self):
        self._registered: Dict[object, int] = {}

    def register(self, obj, eventmask: int = POLLIN | POLLOUT) -> None:
        """Watch ``obj`` for ``eventmask`` (``POLLIN | POLLOUT`` by default); registering it again replaces
        its mask. ``POLLERR``, ``POLLHUP`` and ``POLLNVAL`` are reported anyway."""
        if isinstance(obj, int) and obj < 0:
            raise ValueError(f"file descriptor cannot be a negative integer ({obj})")
        self._registered[obj] = eventmask

    def modify(self, obj, eventmask: int) -> None:
        """A new ``eventmask`` for a registered ``obj``; ``ENOENT`` for one that is not, as in MicroPython."""
        if obj not in self._registered:
            raise OSError(2, "object is not registered")  # ENOENT, as MicroPython
        self._registered[obj] = eventmask

    def unregister(self, obj) -> None:
        """Stop watching ``obj`` (one not registered is ignored, as in MicroPython)."""
        self._registered.pop(obj, None)

    def _ready(self) -> List[Tuple[object, int]]:
        ready = []
        for obj, wanted in list(self._registered.items()):
            events = _mask_of(obj) & (wanted | _ALWAYS)
            if events:
                ready.append((obj, events))
        return ready

    def poll(self, timeout: Optional[int] = -1) -> List[Tuple[object, int]]:
        """Wait up to ``timeout`` milliseconds (-1 or None: forever) for any registered object."""
        seconds = None if timeout is None or timeout < 0 else timeout / 1000
        found: List[Tuple[object, int]] = []

        def any_ready() -> bool:
            found[:] = self._ready()
            return bool(found)

        if all(hasattr(obj, "_poll_mask") for obj in self._registered):
            changes.wait_until(any_ready, seconds)
            return list(found)
        import time
        deadline = None if seconds is None else time.monotonic() + seconds
        while not any_ready():
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                break
            changes.wait_until(lambda: False, _OS_SLICE if left is None else min(_OS_SLICE, left))
        return list(found)

    def ipoll(self, timeout: Optional[int] = -1, flags: int = 0) -> Iterator[Tuple[object, int]]:
        """Like ``poll``, as an iterator; with ``flags`` 1 an object reported is disarmed until modify()."""
        for obj, events in self.poll(timeout):
            if flags & 1:
                self._registered[obj] = 0
            yield obj, events


def select(rlist, wlist, xlist, timeout: Optional[float] = None):
    """``select.select`` over atsock sockets (and descriptors); ``timeout`` in seconds."""
    poller = poll()
    for obj in set(rlist) | set(wlist) | set(xlist):
        poller.register(obj, (POLLIN if obj in rlist else 0) | (POLLOUT if obj in wlist else 0))
    ready = dict(poller.poll(-1 if timeout is None else int(timeout * 1000)))
    readable = [obj for obj in rlist if ready.get(obj, 0) & (POLLIN | POLLHUP | POLLERR)]
    writable = [obj for obj in wlist if ready.get(obj, 0) & (POLLOUT | POLLERR)]
    failed = [obj for obj in xlist if ready.get(obj, 0) & (POLLERR | POLLNVAL)]
    return readable, writable, failed
