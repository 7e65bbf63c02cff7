"""Data mode with RTS/CTS: a reader that falls behind holds the module back instead of piling up.

In data mode the module pushes the peer's bytes as fast as the line goes, with no command to pace
it. With RTS/CTS on, the host can stop it: once a socket holds ``HIGH`` bytes its caller has not
read, the port is no longer read; the OS's buffer fills, the UART lowers RTS, the module stops
sending and, its own buffer full, stops reading from the peer, whose TCP window closes. Reading
resumes below ``LOW``. Nothing is lost, and the host holds ``HIGH`` bytes at most.

Without flow control the port is always read (stopping would lose bytes the module sends all the
same): the socket buffers whatever comes, and a host too slow to read the port at all loses bytes
in its UART with no error (docs/hardware.md, "Flow control").
"""
import asyncio
import logging
from typing import Optional

log = logging.getLogger("atsock.datamode")

HIGH = 64 * 1024  # unread bytes of a socket in data mode above which the port is not read (0.7 s at 921600)
LOW = 16 * 1024


class ReadHold:
    def __init__(self, engine, conn, high: int = HIGH, low: int = LOW):
        self.engine = engine
        self.conn = conn
        self.high = high
        self.low = low
        self.paused = False
        self._waiting: Optional[asyncio.Task] = None

    def arrived(self) -> None:
        """Bytes were delivered to the socket."""
        if not self.paused and self.conn.inbox.buffered > self.high:
            transport = self.engine.transport
            try:
                transport.pause_reading()
            except (AttributeError, NotImplementedError):
                return  # a port that cannot stop being read: the socket buffers on
            self.paused = True
            log.debug("socket %s: %d bytes unread, the port is not read (RTS down)", self.conn.id,
                      self.conn.inbox.buffered)
            self._waiting = asyncio.ensure_future(self._until_read())

    async def _until_read(self) -> None:
        while self.paused and self.conn.inbox.buffered > self.low:
            await self.conn.wait_change()
        self.release()

    def release(self) -> None:
        """Read the port again (the reader caught up, or the line is needed: escaping, closing)."""
        if not self.paused:
            return
        self.paused = False
        if self._waiting is not None and self._waiting is not asyncio.current_task():
            self._waiting.cancel()
        transport = self.engine.transport
        if transport is not None and not transport.is_closing():
            transport.resume_reading()
