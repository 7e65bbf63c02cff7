"""What a connection has received and not yet handed to its caller, one shape per kind.

A TCP stream keeps bytes, a UDP service whole datagrams with their senders, a listener the
accepted connections not yet taken by ``accept()``. They are plain containers: the socket core
decides when something may be added (never after the connection failed or closed) and wakes the
readers.
"""
from collections import deque
from typing import Deque, Optional, Tuple

Address = Tuple[str, int]


class StreamInbox:
    def __init__(self):
        self.data = bytearray()
        self.eof = False  # the peer sent its last byte and all of them are in ``data``

    @property
    def buffered(self) -> int:
        return len(self.data)

    @property
    def readable(self) -> bool:
        return bool(self.data) or self.eof

    def add(self, data: bytes) -> None:
        self.data += data

    def take(self, limit: int, peek: bool = False) -> bytes:
        chunk = bytes(self.data[:limit])
        if not peek:
            del self.data[:limit]
        return chunk

    def unread(self, data: bytes) -> None:
        """Put gathered bytes back in front: a read that timed out loses nothing."""
        self.data[0:0] = data

    def clear(self) -> None:
        self.data.clear()


class DatagramInbox:
    def __init__(self):
        self.queue: Deque[Tuple[bytes, Address]] = deque()
        self.buffered = 0

    @property
    def readable(self) -> bool:
        return bool(self.queue)

    @property
    def eof(self) -> bool:
        return False

    def add(self, data: bytes, sender: Address) -> None:
        self.queue.append((data, sender))
        self.buffered += len(data)

    def take(self, peek: bool = False) -> Optional[Tuple[bytes, Address]]:
        if not self.queue:
            return None
        if peek:
            return self.queue[0]
        data, sender = self.queue.popleft()
        self.buffered -= len(data)
        return data, sender

    def clear(self) -> None:
        self.queue.clear()
        self.buffered = 0


class AcceptQueue:
    def __init__(self, backlog: int):
        self.backlog = backlog
        self.queue: Deque[object] = deque()

    buffered = 0
    eof = False

    @property
    def readable(self) -> bool:
        return bool(self.queue)

    @property
    def full(self) -> bool:
        return len(self.queue) >= self.backlog

    def add(self, connection) -> None:
        self.queue.append(connection)

    def take(self):
        return self.queue.popleft() if self.queue else None

    def clear(self):
        pending = list(self.queue)
        self.queue.clear()
        return pending
