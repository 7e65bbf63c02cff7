"""Randomized, bounded waits between attempts to bring a modem back.

Modems that lose the same thing at the same moment — the host of their serial server rebooted, the
cell went down, a USB hub reset — must not all try again in step: GSMA TS.34 (IoT Device Connection
Efficiency Guidelines) names such synchronised behaviour as the problem it exists for (§1.1) and
asks the device application (§4) to retry after a back-off that grows with each failure and is
randomised per device, never in a tight loop. So each wait is drawn anew, uniformly from the upper
half of a window that doubles per attempt up to ``cap``: the k-th wait lies in
``[w/2, w]`` with ``w = min(cap, first * 2**k)``. The lower half-bound keeps a retry from ever
following a failure at once and makes the waits grow; the random half spreads a crowd's k-th
retries over half a window ("equal jitter": M. Brooker, *Exponential Backoff And Jitter*, AWS
Architecture Blog, 2015, shows a crowd retrying in step taking several times the work).
"""
import random
from typing import Optional


class Backoff:
    def __init__(self, first: float, cap: float, rng: Optional[random.Random] = None):
        if not 0 < first <= cap:
            raise ValueError("a back-off needs 0 < first <= cap")
        self.first = first
        self.cap = cap
        self._random = rng or random.Random()  # seeded from the OS: two processes never share a sequence

    def window(self, attempt: int) -> float:
        """The longest wait after failure number ``attempt`` (counted from 0)."""
        return min(self.cap, self.first * 2 ** min(attempt, 64))

    def delay(self, attempt: int) -> float:
        window = self.window(attempt)
        return self._random.uniform(window / 2, window)
