"""The data-mode escape, ``+++``, and the silences that make it one.

A module in a transparent mode leaves it for ``+++`` alone between two silences of its guard time
(Quectel: 1 s before, the three within 1 s, 1 s after; ESP-AT: a packet that is exactly ``+++``,
20 ms around it). Everything here is about keeping those silences, both ways:

* :class:`LineClock`: when the last byte written will have left the host's UART, counted from the
  line's rate, so that a silence is measured from the wire, not from the write call;
* :class:`PlusGuard`: the payload's own ``+`` never make such an escape. A run of ``+`` can escape
  only if it stands alone: after a silence, exactly three, then a silence. So writes of nothing but
  ``+`` go at most two ``+`` in a guard time (plus margins); a third waits, and goes with the next
  write or once the first two can no longer count. The cost: a payload written as ``+++``, or
  ``++`` then ``+``, has its third ``+`` delayed by that window; any other payload goes out at once;
* :func:`leave_stale_data_mode`: the start-up probe found no answer, perhaps because an earlier
  process died in data mode and the probe went to the far end as data. One escape brings such a
  module back (to a module in command mode, ``+++`` is the start of a line, which a line end then
  closes), so at most that one probe line reaches the far end.
"""
import asyncio
import logging
from typing import Optional, Tuple

log = logging.getLogger("atsock.datamode")

ESCAPE = b"+++"
PLUS = 0x2B
GUARD_MARGIN = 1.1   # silences are made this much longer than the module needs...
GUARD_EXTRA = 0.02   # ...and this much more (timers, USB and the kernel are not exact)
JITTER = 0.1         # how far the module's idea of when a byte came may be from the line clock's
QUIET = 0.05         # no byte for this long: what the module had to say has come
#: (guard, settle) for a module whose dialect is not known yet: the longest the documents give
#: (Quectel's 1 s guard; ESP-AT's 20 ms guard and 1 s before the next command)
DEFAULT_TIMING = (1.0, 1.0)
#: the first line a module prints when it has started (Quectel, ESP-AT): one that says it is
#: starting is not in a data mode
BOOT_NOTICES = frozenset({"RDY", "ready"})


def guard_silence(guard: float) -> float:
    """The silence atsock keeps for a module that needs ``guard``."""
    return guard * GUARD_MARGIN + GUARD_EXTRA


class LineClock:
    """When the bytes written so far will have left the host's UART; ``rate`` is bytes a second
    (None: unknown, each write counts as leaving at once)."""

    def __init__(self, rate: Optional[float]):
        self.rate = rate
        self.free = 0.0  # when the line is silent again

    def restart(self, now: float) -> None:
        """Entering data mode counts as the last byte (the module starts its silence there)."""
        self.free = now

    def add(self, count: int, now: float) -> float:
        """``count`` bytes written at ``now``; returns when the last of them has left."""
        self.free = max(self.free, now) + (count / self.rate if self.rate else 0.0)
        return self.free


class PlusGuard:
    """Which part of a payload write may go to the line now, so that no run of ``+`` can be taken
    for the escape. A run counts for the module only if a silence comes before it, and it escapes
    only if it is exactly three with a silence after. A write of four or more ``+``, or one with
    other bytes in it, is always safe: the bytes right after a third ``+`` undo it. A write of one
    to three ``+`` and nothing else may stand alone (the line may fall silent around it, whatever the
    clock says: a driver, a USB packet or the module's own reading can open a gap between two writes),
    so such ``+`` go at most two in a ``window``; by its end the module has given them back as data."""

    def __init__(self, guard: float):
        self.window = guard_silence(guard) + JITTER
        self._lone = 0       # lone "+" written in the window
        self._until = 0.0    # when the window ends

    @property
    def release_at(self) -> float:
        """When held ``+`` may go: the lone ones before them no longer count."""
        return self._until

    def admit(self, data, now: float, clock: LineClock) -> int:
        """How many bytes of ``data`` to write now: all, or only as many lone ``+`` as the window
        still allows (the caller holds the rest back). The clock moves on by what is written."""
        count = len(data)
        if count > 3 or any(byte != PLUS for byte in data):
            self._lone = 0
            clock.add(count, now)
            return count
        if max(now, clock.free) >= self._until:
            self._lone = 0  # a new window
        count = min(count, 2 - self._lone)
        if count:
            self._until = clock.add(count, now) + self.window
            self._lone += count
        return count


def stale_escape_waits(timing: Tuple[float, float], unanswered_for: float) -> Tuple[float, float]:
    """(seconds to wait before ``+++``, seconds after it) for a module that may be in data mode,
    when nothing was written for ``unanswered_for`` seconds; ``timing`` is (guard, settle)."""
    guard, settle = timing
    return max(0.0, guard_silence(guard) - unanswered_for), max(guard_silence(guard), settle)


async def leave_stale_data_mode(engine, unanswered_for: float, notices: int) -> None:
    """The first start-up probe was not answered: ``+++`` between guard silences, then a line end
    (a module in command mode took the ``+`` for the start of a line); what the module says to
    all that (its answer, an ERROR, the far end's last bytes) is dropped before probing on. Not if
    the module says it is starting (its boot notice, counted in ``engine.boot_notices`` since it
    was ``notices``) before the escape goes out: it was only not listening yet."""
    loop = asyncio.get_running_loop()
    before, after = stale_escape_waits(engine.escape_timing, unanswered_for)
    escape_at = loop.time() + before
    while engine.boot_notices == notices:
        if loop.time() >= escape_at:
            break
        await asyncio.sleep(min(QUIET, escape_at - loop.time()))
    if engine.boot_notices != notices:
        return
    log.info("no answer to AT: leaving a data mode the module may have been left in")
    engine.write_escape()
    await asyncio.sleep(after)
    engine.write_escape(then_end_line=True)
    await until_quiet(engine, after + 2.0)
    engine.channel.abandon()


async def until_quiet(engine, limit: float) -> bool:
    """Returns once no byte came for :data:`QUIET` (True), or after ``limit`` seconds (False)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit
    seen = engine.stats.bytes_read
    while loop.time() < deadline:
        await asyncio.sleep(QUIET)
        if engine.stats.bytes_read == seen:
            return True
        seen = engine.stats.bytes_read
    return False
