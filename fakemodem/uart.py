"""The module's UART on the master end of a pty: bytes in and out, paced at the line rate.

With ``baudrate`` set, each direction behaves as a line carrying baud/10 bytes a second: a byte
is delivered when its stop bit would end, i.e. byte k of a burst that found the line idle at t0
arrives at t0 + k/rate. There is no fixed tick: at every wake-up the budget is computed from the
clock, every byte whose time has come (up to ``LOOKAHEAD`` early) goes at once, and the next wake-up
is set for the next byte's time. The event loop wakes with about a millisecond's granularity, so
the lookahead centres the error on zero: each byte arrives within about half a millisecond of its
ideal time. Without ``baudrate`` bytes move as fast as the pty allows. Received bytes go to
``on_receive`` (the :class:`fakemodem.serial_side.SerialSide`); nothing here knows about commands.
"""
import asyncio
import os
from typing import Callable, Optional

LOOKAHEAD = 0.0005  # seconds a byte may go before its ideal time (half the loop's wake-up granularity)
MIN_WAIT = 0.0005   # at least this between two wake-ups, so a fast line does not spin the loop
RX_HELD = 4096      # received bytes held "on the wire" before the pty is left to buffer the rest
UNPACED_READ = 65536


class Uart:
    def __init__(self, loop: asyncio.AbstractEventLoop, fd: int, baudrate: Optional[int],
                 on_receive: Callable[[bytes], None]):
        self._loop = loop
        self._fd = fd
        self._on_receive = on_receive
        self._rate: Optional[float] = None
        self.baudrate = baudrate
        # module -> host: bytes not yet written to the pty; the first one's transmission starts
        # at _tx_start (the line's previous byte ends then)
        self._outbox = bytearray()
        self._tx_start = 0.0
        self._tx_timer: Optional[asyncio.TimerHandle] = None
        self._writing = False  # waiting for the pty to take bytes (the host is not reading)
        self._rate_after_drain: Optional[int] = None
        # host -> module: bytes read from the pty but still "on the wire"
        self._wire = bytearray()
        self._rx_start = 0.0
        self._rx_timer: Optional[asyncio.TimerHandle] = None
        self._reading = True
        self.bytes_in = 0
        self.bytes_out = 0
        # for measurements (bench/pacing.py): called with (loop time, byte count) as received
        # bytes reach the module
        self.on_delivered_in: Optional[Callable[[float, int], None]] = None
        loop.add_reader(fd, self._readable)

    @property
    def baudrate(self) -> Optional[int]:
        return self._baudrate

    @baudrate.setter
    def baudrate(self, value: Optional[int]) -> None:
        """A new line rate applies from the next byte on (AT+UART_CUR, AT+IPR)."""
        self._baudrate = value
        self._rate = value / 10 if value else None

    def _next_wake(self, start: float, now: float) -> float:
        """When the next byte, starting at ``start``, is due (less the lookahead), but not sooner
        than ``MIN_WAIT`` from now: the loop cannot time a wake-up much finer than a millisecond,
        so waking more often only spends CPU."""
        return max(start + 1 / self._rate - LOOKAHEAD, now + MIN_WAIT)

    def change_rate(self, value: Optional[int]) -> None:
        """A new line rate once what the module has written is on the line (a result code is
        sent at the old rate, then the UART switches). An unpaced line stays unpaced: a pty has
        no rate of its own."""
        if self._rate is None:
            return
        if self._outbox:
            self._rate_after_drain = value
        else:
            self.baudrate = value

    def _due(self, start: float, now: float, waiting: int) -> int:
        """How many of ``waiting`` bytes, the first starting at ``start``, have ended by now (+ lookahead)."""
        return min(waiting, int((now + LOOKAHEAD - start) * self._rate))

    # --- input --------------------------------------------------------------------------------
    def _readable(self) -> None:
        limit = RX_HELD - len(self._wire) if self._rate else UNPACED_READ
        try:
            data = os.read(self._fd, limit)
        except OSError:  # BlockingIOError, InterruptedError, or the pty went away
            return
        if not data:
            return
        if self._rate is None:
            self._deliver_in(data)
            return
        now = self._loop.time()
        if not self._wire:  # the line was idle or its last byte is still arriving
            self._rx_start = max(now, self._rx_start)
        self._wire += data
        if len(self._wire) >= RX_HELD:  # the host's side holds the rest (like a UART's TX FIFO)
            self._loop.remove_reader(self._fd)
            self._reading = False
        if self._rx_timer is None:
            self._receive_due()

    def _receive_due(self) -> None:
        self._rx_timer = None
        if not self._wire:
            return
        now = self._loop.time()
        count = self._due(self._rx_start, now, len(self._wire))
        if count:
            data = bytes(self._wire[:count])
            del self._wire[:count]
            self._rx_start += count / self._rate
            if not self._reading and len(self._wire) <= RX_HELD // 2:
                self._reading = True
                self._loop.add_reader(self._fd, self._readable)
            self._deliver_in(data)
        if self._wire and self._rx_timer is None:
            self._rx_timer = self._loop.call_at(self._next_wake(self._rx_start, now), self._receive_due)

    def _deliver_in(self, data: bytes) -> None:
        self.bytes_in += len(data)
        if self.on_delivered_in is not None:
            self.on_delivered_in(self._loop.time(), len(data))
        self._on_receive(data)

    # --- output -------------------------------------------------------------------------------
    @property
    def backlog(self) -> int:
        """Bytes written by the module but not yet on the line."""
        return len(self._outbox)

    def write(self, data: bytes) -> None:
        if not self._outbox:  # the line was idle or its last byte is still leaving
            self._tx_start = max(self._loop.time(), self._tx_start)
        self._outbox += data
        if not self._writing and self._tx_timer is None:
            self._send_due()

    def _send_due(self) -> None:
        self._tx_timer = None
        now = self._loop.time()
        count = self._due(self._tx_start, now, len(self._outbox)) if self._rate else len(self._outbox)
        if count:
            try:
                sent = os.write(self._fd, self._outbox[:count])
            except BlockingIOError:
                sent = 0
            except OSError:  # the pty is gone: what was to be sent is lost with it
                self._outbox.clear()
                return
            if sent:
                del self._outbox[:sent]
                self.bytes_out += sent
                if self._rate:
                    self._tx_start += sent / self._rate
            if sent < count:  # the host is not reading: the line holds still until it does
                self._writing = True
                self._loop.add_writer(self._fd, self._writable)
                return
        if self._outbox and self._rate:
            self._tx_timer = self._loop.call_at(self._next_wake(self._tx_start, now), self._send_due)
        elif not self._outbox and self._rate_after_drain is not None:
            self.baudrate, self._rate_after_drain = self._rate_after_drain, None

    def _writable(self) -> None:
        self._loop.remove_writer(self._fd)
        self._writing = False
        if self._rate:  # the line stood still meanwhile: transmission restarts now
            self._tx_start = max(self._tx_start, self._loop.time())
        self._send_due()

    def close(self) -> None:
        self._loop.remove_reader(self._fd)
        if self._writing:
            self._loop.remove_writer(self._fd)
        for timer in (self._tx_timer, self._rx_timer):
            if timer is not None:
                timer.cancel()
