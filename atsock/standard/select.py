"""``import select`` for ordinary code: CPython's ``poll`` and ``select`` that know atsock sockets.

CPython's ``poll`` takes descriptors or objects with ``fileno()`` and answers ``(fd, events)``;
this one does the same, asking an atsock socket (plain or TLS) for its state
(:func:`atsock.select.poll_mask`: a TLS socket is readable only when plaintext waits) and any
other descriptor the kernel. ``select`` answers the objects it was given, as CPython's.
``epoll``, ``PIPE_BUF`` and the constants are CPython's (an atsock descriptor in an ``epoll`` is
readable while its connection is, see :mod:`atsock.core.readiness`). MicroPython programs, whose
``poll`` answers objects, use ``uselect`` (:mod:`atsock.select`).
"""
from select import *  # noqa: F401,F403 - CPython's names first
from select import POLLERR, POLLHUP, POLLIN, POLLNVAL, POLLOUT, POLLPRI  # noqa: F401 - atsock's values too
from typing import Dict, List, Optional, Tuple

from .. import select as _modem_select

select = _modem_select.select

#: names that know atsock sockets; every other name is CPython's own
MODEM = frozenset({"poll", "select"})


def _descriptor(obj) -> int:
    fd = obj if isinstance(obj, int) else obj.fileno()
    if not isinstance(fd, int):
        raise TypeError("argument must be an int, or have a fileno() method.")
    if fd < 0:
        raise ValueError(f"file descriptor cannot be a negative integer ({fd})")
    return fd


class poll:
    """CPython's ``select.poll()``: ``register(fd_or_obj, eventmask)``, ``poll(ms)`` -> ``[(fd, events)]``."""

    def __init__(self):
        self._objects: Dict[int, object] = {}  # the object registered under each descriptor
        self._modem_poll = _modem_select.poll()

    def register(self, fd, eventmask: int = POLLIN | POLLPRI | POLLOUT) -> None:
        """Watch a descriptor or an object with ``fileno()`` for ``eventmask``; registering it again
        replaces the mask."""
        number = _descriptor(fd)
        self.unregister_quietly(number)
        self._objects[number] = fd
        self._modem_poll.register(fd, eventmask)

    def modify(self, fd, eventmask: int) -> None:
        """A new ``eventmask`` for a registered descriptor; ``FileNotFoundError`` for one that is not, as
        in CPython."""
        number = _descriptor(fd)
        if number not in self._objects:
            raise FileNotFoundError(2, "No such file or directory")
        self._modem_poll.register(self._objects[number], eventmask)

    def unregister(self, fd) -> None:
        """Stop watching a descriptor; ``KeyError`` for one that is not registered, as in CPython."""
        number = _descriptor(fd)
        if number not in self._objects:
            raise KeyError(number)
        self.unregister_quietly(number)

    def unregister_quietly(self, number: int) -> None:
        """Stop watching descriptor ``number`` if it is watched (what :meth:`register` does first)."""
        obj = self._objects.pop(number, None)
        if obj is not None:
            self._modem_poll.unregister(obj)

    def poll(self, timeout: Optional[float] = None) -> List[Tuple[int, int]]:
        """Wait up to ``timeout`` milliseconds (``None`` or negative: forever) and return ``[(fd,
        events)]`` for the descriptors ready."""
        milliseconds = -1 if timeout is None or timeout < 0 else int(timeout)
        by_object = {id(obj): number for number, obj in self._objects.items()}
        return [(by_object[id(obj)], events) for obj, events in self._modem_poll.poll(milliseconds)]
