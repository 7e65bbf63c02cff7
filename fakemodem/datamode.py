"""Transparent ("data") mode on the serial line: the host's bytes go to one socket as they come,
and ``+++`` framed by guard times takes the line back to command mode.

Both dialects use it: Quectel access mode 2 (guard 1 s either side, the three ``+`` within 1 s)
and ESP-AT passthrough (20 ms). Host bytes are handed on in packets, as the firmware sends them:
when ``packet_size`` bytes are collected or after ``idle`` seconds without more. ``room()`` says
whether the link takes more now (the module's RTS while flow control is on: :mod:`fakemodem.uart`).

What makes ``+++`` an escape: silence for the guard time before the first ``+``, exactly three,
silence for the guard time after the third. ``rule`` says how close the three must be: "window"
(all within the guard time of the first: Quectel's manual, ESP-AT 2.x's documents) or "packet"
(each within the guard time of the one before, so that they make one packet between two
silences: ESP8266 AT 1.x's "a single packet containing +++").
"""
import asyncio
from typing import Callable

ESCAPE = 0x2B  # "+"


class DataMode:
    def __init__(self, loop: asyncio.AbstractEventLoop, *, guard: float, packet_size: int, idle: float,
                 on_data: Callable[[bytes], None], on_escape: Callable[[], None], rule: str = "window",
                 room: Callable[[], bool] = lambda: True):
        if rule not in ("window", "packet"):
            raise ValueError(f"rule is 'window' or 'packet', not {rule!r}")
        self._loop = loop
        self.room = room
        self.guard = guard
        self.rule = rule
        self.packet_size = packet_size
        self.idle = idle
        self._on_data = on_data
        self._on_escape = on_escape
        self._last = loop.time()       # when the previous byte came (entering counts as one)
        self._pluses = 0               # "+" held back: they may be the escape
        self._first_plus = 0.0
        self._escape_timer = None
        self._packet = bytearray()
        self._flush_timer = None
        self.active = True

    def feed(self, data: bytes) -> None:
        """Bytes from the host while the line is in data mode."""
        now = self._loop.time()
        if not self._pluses and ESCAPE not in data:  # the common case: plain data
            self._take(data)
            self._last = now
            return
        for byte in data:
            if byte == ESCAPE and self._could_escape(now):
                self._pluses += 1
                if self._pluses == 1:
                    self._first_plus = now
                if self._pluses < 3:  # the next must come in time (the first's window, or this one's)
                    if self._escape_timer is not None:
                        self._escape_timer.cancel()
                    since = self._first_plus if self.rule == "window" else now
                    self._escape_timer = self._loop.call_at(since + self.guard, self._give_back_pluses)
                else:  # and then silence for the guard time
                    self._escape_timer.cancel()
                    self._escape_timer = self._loop.call_at(now + self.guard, self.escape)
            else:
                self._give_back_pluses()
                self._take(bytes([byte]))
            self._last = now

    def disturb(self) -> None:
        """A byte elsewhere on the line (another channel of a multiplexer whose guard times count
        the whole line): the silence around ``+++`` is broken, as a byte of this data would."""
        self._give_back_pluses()
        self._last = self._loop.time()

    def _could_escape(self, now: float) -> bool:
        if self._pluses == 0:
            return now - self._last >= self.guard  # silence before the first "+"
        since = self._first_plus if self.rule == "window" else self._last
        return self._pluses < 3 and now - since <= self.guard

    def _give_back_pluses(self) -> None:
        """What looked like the start of an escape was data after all."""
        if self._escape_timer is not None:
            self._escape_timer.cancel()
            self._escape_timer = None
        if self._pluses:
            self._take(b"+" * self._pluses)
            self._pluses = 0

    def escape(self) -> None:
        """Silence after "+++": back to command mode (what was collected before it is sent).
        Also what a test harness calls to leave data mode without waiting out the guard times."""
        self._escape_timer = None
        self._pluses = 0
        self.flush()
        self.close()
        self._on_escape()

    def _take(self, data: bytes) -> None:
        self._packet += data
        while len(self._packet) >= self.packet_size:
            packet = bytes(self._packet[: self.packet_size])
            del self._packet[: self.packet_size]
            self._on_data(packet)
        if self._flush_timer is not None:
            self._flush_timer.cancel()
            self._flush_timer = None
        if self._packet:
            self._flush_timer = self._loop.call_later(self.idle, self.flush)

    def flush(self) -> None:
        if self._flush_timer is not None:
            self._flush_timer.cancel()
            self._flush_timer = None
        if self._packet:
            packet = bytes(self._packet)
            self._packet.clear()
            self._on_data(packet)

    def close(self) -> None:
        """Leave without the escape (the connection went, the module restarted)."""
        self.active = False
        for timer in (self._escape_timer, self._flush_timer):
            if timer is not None:
                timer.cancel()
        self._escape_timer = self._flush_timer = None
