"""The module's UART on the master end of a pty: bytes in and out, paced at the line rate.

With ``baudrate`` set, both directions move at the line rate (10 bits a byte), as through a real
UART; without it, as fast as the pty allows. Received bytes go to ``on_receive`` (the
:class:`fakemodem.serial_side.SerialSide`); nothing here knows about commands.
"""
import asyncio
import os
from typing import Callable, Optional

TICK = 0.005  # pacing granularity: a paced line moves this many seconds' worth of bytes per step


class Uart:
    def __init__(self, loop: asyncio.AbstractEventLoop, fd: int, baudrate: Optional[int],
                 on_receive: Callable[[bytes], None]):
        self._loop = loop
        self._fd = fd
        self._rate = baudrate / 10 if baudrate else None  # bytes per second
        self._on_receive = on_receive
        self._outbox = bytearray()
        self._writing = False
        self._line_free_at = 0.0
        self._flush_timer = None
        self.bytes_in = 0
        self.bytes_out = 0
        loop.add_reader(fd, self._readable)

    # --- input --------------------------------------------------------------------------------
    def _readable(self) -> None:
        limit = max(1, int(self._rate * TICK)) if self._rate else 65536
        try:
            data = os.read(self._fd, limit)
        except OSError:  # BlockingIOError, InterruptedError, or the pty went away
            return
        if self._rate and data:  # the UART takes len(data) bytes' time: stop reading until then
            self._loop.remove_reader(self._fd)
            self._loop.call_later(len(data) / self._rate, self._resume_reading)
        if data:
            self.bytes_in += len(data)
            self._on_receive(data)

    def _resume_reading(self) -> None:
        try:
            self._loop.add_reader(self._fd, self._readable)
        except (ValueError, OSError):
            pass  # closed meanwhile

    # --- output -------------------------------------------------------------------------------
    @property
    def backlog(self) -> int:
        """Bytes written by the module but not yet on the line."""
        return len(self._outbox)

    def write(self, data: bytes) -> None:
        self._outbox += data
        if not self._writing and self._flush_timer is None:
            self._flush()

    def _flush(self) -> None:
        self._flush_timer = None
        while self._outbox:
            chunk = self._outbox
            if self._rate:
                now = self._loop.time()
                if self._line_free_at > now + TICK:
                    self._flush_timer = self._loop.call_at(self._line_free_at - TICK, self._flush)
                    return
                chunk = self._outbox[: max(1, int(self._rate * TICK))]
            try:
                sent = os.write(self._fd, chunk)
            except BlockingIOError:
                sent = 0
            except OSError:
                self._outbox.clear()
                break
            del self._outbox[:sent]
            self.bytes_out += sent
            if self._rate and sent:
                self._line_free_at = max(self._line_free_at, self._loop.time()) + sent / self._rate
            if sent == 0:
                if not self._writing:
                    self._writing = True
                    self._loop.add_writer(self._fd, self._flush)
                return
        if self._writing:
            self._writing = False
            self._loop.remove_writer(self._fd)

    def close(self) -> None:
        self._loop.remove_reader(self._fd)
        if self._writing:
            self._loop.remove_writer(self._fd)
        if self._flush_timer is not None:
            self._flush_timer.cancel()
