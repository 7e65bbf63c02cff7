"""MicroPython's ``ssl.wrap_socket`` takes any stream, not only a socket: an object with ``write``
and ``readinto`` (or ``read``), and perhaps ``setblocking`` and ``close``. :class:`StreamSocket`
shows such an object to the TLS socket as the socket it drives.

A stream is taken as connected. A ``write`` or read that answers None is "would block" (EAGAIN);
a read of nothing is the end of the stream.
"""
import errno
from typing import Optional

from ..errors import os_error
from ..select import POLLIN, POLLOUT
from ..surface.checked import SocketArguments


def is_stream_only(obj) -> bool:
    """A stream that is no socket: it has ``write`` and a read but no ``send``/``recv``."""
    return (hasattr(obj, "write") and (hasattr(obj, "readinto") or hasattr(obj, "read"))
            and not (hasattr(obj, "send") and hasattr(obj, "recv")))


def _no_flags(flags: int) -> None:
    if flags:
        raise os_error(errno.EOPNOTSUPP, "a stream takes no flags")


class StreamSocket(SocketArguments):
    """(Its arguments are checked as a socket's: :mod:`atsock.surface.checked`.)"""

    type = 1  # SOCK_STREAM

    def __init__(self, stream):
        self._stream = stream
        self._timeout: Optional[float] = None

    def recv(self, bufsize: int, flags: int = 0) -> bytes:
        _no_flags(flags)
        stream = self._stream
        if hasattr(stream, "readinto"):
            buffer = bytearray(bufsize)
            count = stream.readinto(buffer)
            data = None if count is None else bytes(buffer[:count])
        else:
            data = stream.read(bufsize)
        if data is None:
            raise os_error(errno.EAGAIN)
        return bytes(data)

    def send(self, data, flags: int = 0) -> int:
        _no_flags(flags)
        count = self._stream.write(data)
        if count is None:
            raise os_error(errno.EAGAIN)
        return count

    def settimeout(self, value: Optional[float]) -> None:
        """Passed on as ``setblocking`` to a stream that has it, when blocking changes."""
        was_blocking, self._timeout = self._timeout != 0, value
        if (value != 0) != was_blocking and hasattr(self._stream, "setblocking"):
            self._stream.setblocking(value != 0)

    def gettimeout(self) -> Optional[float]:
        return self._timeout

    def setblocking(self, flag: bool) -> None:
        self.settimeout(None if flag else 0.0)

    def getpeername(self):
        return ("", 0)  # a stream has no address; it is connected all the same

    def getsockname(self):
        return ("", 0)

    def _poll_mask(self) -> int:
        return POLLIN | POLLOUT  # a stream cannot say; a read finds out

    def fileno(self) -> int:
        return self._stream.fileno() if hasattr(self._stream, "fileno") else -1

    def close(self) -> None:
        if hasattr(self._stream, "close"):
            self._stream.close()
