"""The module's UART on the master end of a pty: bytes in and out at the module's line rate.

**Rate.** The UART has the module's rate (``baudrate``; AT+IPR and AT+UART_CUR change it once the
OK has left). The host's rate is whatever its termios says (:mod:`fakemodem.hostline`, read at
every transfer): where the two differ by more than a UART tolerates, each side reads the other's
bytes as a UART would, as garbage (:mod:`fakemodem.wire`), never as silence and never as text.

**Pacing.** With ``paced``, each direction carries baud/10 bytes a second: a byte is delivered
when its stop bit would end, i.e. byte k of a burst that found the line idle at t0 arrives at
t0 + k/rate. There is no fixed tick: at every wake-up the budget is computed from the clock, every
byte whose time has come (up to ``LOOKAHEAD`` early) goes at once, and the next wake-up is set for
the next byte's time. The event loop wakes with about a millisecond's granularity, so the
lookahead centres the error on zero: each byte arrives within about half a millisecond of its
ideal time. Unpaced, bytes move as fast as the pty allows.

**Flow control.** ``flow()`` says which of its lines the module runs now, ``(rts, cts)``; the
host runs both or neither (CRTSCTS in its termios). Module to host: the pty's own back-pressure
stands in for CTS. While both ends run it, a host that does not read holds the module back (the
pty's buffer fills, the write waits); otherwise a paced line goes on at its rate and what the pty
does not take is lost, as on a UART whose receiver overflows (``lost_out``). Host to module: the
module's RTS is up while its firmware takes bytes (``room()``: in data mode, while the link's send
buffer has space). While it is down and both ends run flow control, the UART stops reading the pty,
whose buffer then fills and the host's writes wait, as a host UART waits on CTS; otherwise the
bytes arrive all the same and are lost (``lost_in``). An unpaced line keeps no rate, so it waits
for whichever side is behind, as if both ran flow control. Received bytes go to ``on_receive``
(the :class:`fakemodem.serial_side.SerialSide`); nothing here knows about commands.
"""
import asyncio
import logging
import os
from typing import Callable, Optional, Tuple

from .hostline import HostLine
from .wire import received_as

log = logging.getLogger("fakemodem.uart")

LOOKAHEAD = 0.0005  # seconds a byte may go before its ideal time (half the loop's wake-up granularity)
MIN_WAIT = 0.0005   # at least this between two wake-ups, so a fast line does not spin the loop
RX_HELD = 4096      # received bytes held "on the wire" before the pty is left to buffer the rest
UNPACED_READ = 65536
TOLERANCE = 0.02    # rates this far apart still agree (a UART samples mid-bit)
SKEW = 0.9          # above ``wiring_limit`` the module's bits reach the host this much stretched
ROOM_POLL = 0.005   # seconds between looks at a module that takes no bytes for now


def rates_agree(a: Optional[float], b: Optional[float]) -> bool:
    return a is None or b is None or abs(a - b) <= TOLERANCE * max(a, b)


class Uart:
    def __init__(self, loop: asyncio.AbstractEventLoop, fd: int, baudrate: Optional[int],
                 on_receive: Callable[[bytes], None], *, paced: Optional[bool] = None,
                 host_line: Callable[[], Optional[HostLine]] = lambda: None):
        self._loop = loop
        self._fd = fd
        self._on_receive = on_receive
        self._host_line = host_line
        self._baudrate = baudrate
        self.paced = baudrate is not None if paced is None else paced
        #: the module's flow control now, (rts, cts); its firmware sets it (AT+IFC, AT+UART_CUR)
        self.flow: Callable[[], Tuple[bool, bool]] = lambda: (False, False)
        #: True while the module's firmware takes received bytes (its RTS, where it runs flow control)
        self.room: Callable[[], bool] = lambda: True
        #: the highest rate the module's TX wire carries (a slow level shifter): above it what the
        #: module sends reaches the host garbled, while the host's bytes still reach the module
        self.wiring_limit: Optional[int] = None
        #: the port is the module's own USB interface: it has no line rate (the host's does not
        #: matter, and AT+IPR / AT+UART_CUR change the module's UART, not this port's pace)
        self.usb = False
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
        self.lost_in = 0     # bytes the module's receiver dropped (no flow control, no room)
        self.lost_out = 0    # bytes the host's side did not take (no flow control, not reading)
        self.garbled = 0     # transfers read at a rate other than the one they were sent at
        # for measurements (bench/pacing.py): called with (loop time, byte count) as received
        # bytes reach the module
        self.on_delivered_in: Optional[Callable[[float, int], None]] = None
        loop.add_reader(fd, self._readable)

    @property
    def baudrate(self) -> Optional[int]:
        """The module's line rate."""
        return self._baudrate

    @baudrate.setter
    def baudrate(self, value: Optional[int]) -> None:
        """A new line rate applies from the next byte on."""
        self._baudrate = value

    @property
    def _rate(self) -> Optional[float]:
        """Bytes a second the line carries, where it is paced."""
        return self._baudrate / 10 if self.paced and self._baudrate else None

    def change_rate(self, value: int) -> None:
        """A new line rate once what the module has written is on the line (a result code is
        sent at the old rate, then the UART switches)."""
        if self.usb:
            return
        if self._outbox:
            self._rate_after_drain = value
        else:
            self.baudrate = value

    def _next_wake(self, start: float, now: float) -> float:
        """When the next byte, starting at ``start``, is due (less the lookahead), but not sooner
        than ``MIN_WAIT`` from now: the loop cannot time a wake-up much finer than a millisecond,
        so waking more often only spends CPU."""
        return max(start + 1 / self._rate - LOOKAHEAD, now + MIN_WAIT)

    def _due(self, start: float, now: float, waiting: int) -> int:
        """How many of ``waiting`` bytes, the first starting at ``start``, have ended by now (+ lookahead)."""
        rate = self._rate
        return min(waiting, int((now + LOOKAHEAD - start) * rate)) if rate else waiting

    # --- the other end -------------------------------------------------------------------------
    def _host_rate(self) -> Tuple[Optional[HostLine], Optional[int]]:
        """The host's settings, and its rate where it differs from the module's (None: they agree)."""
        host = self._host_line()
        rate = host.baudrate if host is not None and not self.usb else None
        return host, (None if rates_agree(rate, self._baudrate) else rate)

    def _read_as(self) -> Tuple[Optional[HostLine], Optional[float]]:
        """The host's settings, and the rate its UART reads the module's bits at where that is not
        theirs (its own rate, or theirs skewed by wiring that cannot carry them)."""
        host, other = self._host_rate()
        if other is None and self.wiring_limit and self._baudrate and self._baudrate > self.wiring_limit:
            other = self._baudrate * SKEW
        return host, other

    def _both_run_flow(self, host: Optional[HostLine], line: int) -> bool:
        """Whether a side that cannot take more holds the other back on ``line`` (0: the module's
        RTS, 1: its CTS). Without a rate to keep or a host to ask, nothing is lost either."""
        if not self.paced or host is None:
            return True
        return host.rtscts and self.flow()[line]

    # --- input --------------------------------------------------------------------------------
    def _readable(self) -> None:
        limit = RX_HELD - len(self._wire) if self.paced else UNPACED_READ
        try:
            data = os.read(self._fd, max(1, limit))
        except OSError:  # BlockingIOError, InterruptedError, or the pty went away
            return
        if not data:
            return
        _, other = self._host_rate()
        if other is not None:
            self.garbled += 1
            data = received_as(data, other, self._baudrate)
            if not data:
                return
        now = self._loop.time()
        if not self._wire:  # the line was idle or its last byte is still arriving
            self._rx_start = max(now, self._rx_start)
        self._wire += data
        if self.paced and len(self._wire) >= RX_HELD:  # the host's side holds the rest (its UART's FIFO)
            self._stop_reading()
        if self._rx_timer is None:
            self._receive_due()

    def _stop_reading(self) -> None:
        if self._reading:
            self._loop.remove_reader(self._fd)
            self._reading = False

    def _receive_due(self) -> None:
        self._rx_timer = None
        if not self._wire:
            return
        now = self._loop.time()
        count = self._due(self._rx_start, now, len(self._wire))
        if count:
            if not self.room() and self._both_run_flow(self._host_line(), 0):
                self._stop_reading()  # RTS down: the host's writes back up in the pty
                self._rx_start = max(self._rx_start, now + ROOM_POLL)
                self._rx_timer = self._loop.call_at(now + ROOM_POLL, self._receive_due)
                return
            data = bytes(self._wire[:count])
            del self._wire[:count]
            if self._rate:
                self._rx_start += count / self._rate
            if not self._reading and len(self._wire) <= RX_HELD // 2:
                self._reading = True
                self._loop.add_reader(self._fd, self._readable)
            if self.room():
                self._deliver_in(data)
            else:
                self._lose_in(len(data))
        if self._wire and self._rx_timer is None:
            wake = self._next_wake(self._rx_start, now) if self._rate else now
            self._rx_timer = self._loop.call_at(wake, self._receive_due)

    def _deliver_in(self, data: bytes) -> None:
        self.bytes_in += len(data)
        if self.on_delivered_in is not None:
            self.on_delivered_in(self._loop.time(), len(data))
        self._on_receive(data)

    def _lose_in(self, count: int) -> None:
        if not self.lost_in:
            log.warning("the module's receiver overflows: bytes lost (no RTS/CTS flow control)")
        self.lost_in += count

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
        count = self._due(self._tx_start, now, len(self._outbox))
        if count and not self._transmit(count):
            return
        if self._outbox and self._rate:
            self._tx_timer = self._loop.call_at(self._next_wake(self._tx_start, now), self._send_due)
        elif not self._outbox and self._rate_after_drain is not None:
            self.baudrate, self._rate_after_drain = self._rate_after_drain, None

    def _transmit(self, count: int) -> bool:
        """Put ``count`` bytes of the outbox on the line; False while the host holds the line."""
        host, other = self._read_as()
        if other is not None:  # the host listens at another rate: it reads garbage, or loses it
            data = bytes(self._outbox[:count])
            self.garbled += 1
            self._sent(count, self._write_some(received_as(data, self._baudrate, other)) or 0)
            return True
        sent = self._write_some(self._outbox[:count])
        if sent is None:  # the pty is gone: what was to be sent is lost with it
            self._outbox.clear()
            return True
        self._sent(sent, sent)
        if sent < count:
            if self._both_run_flow(host, 1):  # the line holds still until the host reads
                self._writing = True
                self._loop.add_writer(self._fd, self._writable)
                return False
            if not self.lost_out:
                log.warning("the host does not read and runs no RTS/CTS flow control: bytes lost")
            self.lost_out += count - sent
            self._sent(count - sent, 0)
        return True

    def _write_some(self, data) -> Optional[int]:
        """How many bytes the pty took (None: it is gone)."""
        try:
            return os.write(self._fd, data)
        except (BlockingIOError, InterruptedError):
            return 0
        except OSError:
            return None

    def _sent(self, count: int, written: int) -> None:
        """``count`` bytes of the outbox have left (``written`` reached the pty)."""
        del self._outbox[:count]
        self.bytes_out += written
        if self._rate:
            self._tx_start += count / self._rate

    def _writable(self) -> None:
        self._loop.remove_writer(self._fd)
        self._writing = False
        if self._rate:  # the line stood still meanwhile: transmission restarts now
            self._tx_start = max(self._tx_start, self._loop.time())
        self._send_due()

    def close(self) -> None:
        if self._reading:
            self._loop.remove_reader(self._fd)
        if self._writing:
            self._loop.remove_writer(self._fd)
        for timer in (self._tx_timer, self._rx_timer):
            if timer is not None:
                timer.cancel()
