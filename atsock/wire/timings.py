"""How long AT exchanges take: a histogram with fixed bounds, kept by the engine for every command.

One exchange is a command from the moment it is written to its final result (a send's prompt and
payload included); the time it waited in the queue is not in it. Fixed bounds make an observation
a bisection and two additions, so every command can be counted; they span a local USB port's
sub-millisecond answers to the minute a module may take to open a connection.
"""
import bisect
from typing import List, Tuple

BOUNDS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


class ExchangeTimes:
    def __init__(self):
        self._counts = [0] * (len(BOUNDS) + 1)  # the last one: longer than every bound
        self.sum = 0.0
        self.count = 0

    def observe(self, seconds: float) -> None:
        self._counts[bisect.bisect_left(BOUNDS, seconds)] += 1
        self.sum += seconds
        self.count += 1

    def cumulative(self) -> List[Tuple[float, int]]:
        """``(bound, exchanges that took at most bound)``, the last bound infinite (Prometheus' ``le``)."""
        total, buckets = 0, []
        for bound, count in zip(BOUNDS + (float("inf"),), self._counts):
            total += count
            buckets.append((bound, total))
        return buckets
