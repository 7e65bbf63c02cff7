"""When to read bytes the modem has announced: on a paced line they cannot all be there sooner.

After a header such as ``+QIRD: 1500`` the channel knows how many bytes are still to come
(:attr:`atsock.wire.channel.ATChannel.due`). On a port that delivers at its line rate (a UART, or the
emulator's pty) the last of them arrives ``due / rate`` seconds later at the earliest, and waking at
every arrival meanwhile (about once a millisecond) costs the host a wake-up each time for nothing.
:class:`ReadPacer` says how long the transport may stop listening instead; the bytes wait in the
kernel's buffer, and one read takes them all.

A USB modem ignores the baud rate and delivers far faster than it: waiting out line times there
would slow it down. So the pacer pauses only on a port it has seen deliver no faster than its rate:
it watches a long frame arrive without pausing first, and again after ``RECHECK`` frames, then after
twice as many each time the port is found paced again (up to ``RECHECK_MAX``: a watched frame is
read at every arrival, a dozen reads at 921600 baud), and a rate change (a new baud rate) or a fast
frame starts the watching over. A frame shorter than ``WATCH_MIN`` of line time is never paused, so
a short answer is read the moment it arrives.

Sans-I/O: the caller passes the clock and the rate.
"""
from typing import Optional, Tuple

PAUSE_MIN = 0.002     # seconds: a shorter pause saves less than it costs (two selector changes, a timer)
PAUSE_MAX = 0.05      # seconds: a port lost meanwhile is noticed at the next read, no later than this
HELD_MAX = 2048       # bytes left waiting at most: a terminal's input buffer holds 4096, and a full one
                      # stalls the line (a pty's writer waits; a UART would lean on its flip buffer)
WATCH_MIN = 0.005     # seconds of line time a frame must have left to be watched (shorter ones are noise)
PACED_MARGIN = 1.5    # a frame that arrives faster than this many times the rate: the port is not paced
RECHECK = 32          # long frames between two watched ones, once the port is known to be paced...
RECHECK_MAX = 1024    # ...doubled after each watch that finds it paced again, up to this many


class ReadPacer:
    def __init__(self):
        self.paced: Optional[bool] = None   # does the port deliver at its line rate? None: not seen yet
        self._rate: Optional[float] = None  # bytes a second the verdict holds for
        self._watch: Optional[Tuple[float, int]] = None  # (when, bytes due then) of the frame being watched
        self.in_frame = False  # a frame is under way (while not, a complete one changes nothing)
        self._recheck = RECHECK  # long frames from one watch to the next
        self._unwatched = 0      # long frames since the last watch

    def pause(self, due: Optional[int], rate: Optional[float], now: float) -> float:
        """Seconds the reader may sleep now that ``due`` more bytes are certain to come on a line
        of ``rate`` bytes a second (None: unknown); 0 to read on arrival. ``due`` 0 means the frame
        is complete; None that it was given up (the bytes it counted on may never come)."""
        if rate != self._rate:
            self.paced, self._rate, self._watch, self._recheck = None, rate, None, RECHECK
        if not due:
            if due == 0 and self._watch is not None:
                self._judge(now)
            self._watch, self.in_frame = None, False
            return 0.0
        if not rate:
            return 0.0
        if not self.in_frame:
            self.in_frame = True
            if due / rate >= WATCH_MIN:
                self._unwatched += 1
                if self.paced is None or self._unwatched >= self._recheck:
                    self._watch, self._unwatched = (now, due), 0
        if self._watch is not None or not self.paced:
            return 0.0
        wait = min(due, HELD_MAX) / rate
        return min(wait, PAUSE_MAX) if wait >= PAUSE_MIN else 0.0

    def _judge(self, now: float) -> None:
        started, count = self._watch
        elapsed = now - started
        paced = elapsed > 0 and count / elapsed <= PACED_MARGIN * self._rate
        self._recheck = min(2 * self._recheck, RECHECK_MAX) if paced and self.paced else RECHECK
        self.paced = paced
