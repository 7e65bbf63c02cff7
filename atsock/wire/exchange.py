"""What the engine's exchanges give back and what they cost: one command's answer (:class:`Response`,
its final result and the lines before it) and the wire's counters (:class:`EngineStats`, read by
``Modem.stats``, the metrics and the benchmarks).
"""
from collections import Counter
from dataclasses import dataclass, field
from typing import List, Optional

from .channel import Final, Intermediate
from .timings import ExchangeTimes


@dataclass(slots=True)
class Response:
    final: Final
    lines: List[Intermediate]

    def first(self, prefix: str) -> Optional[Intermediate]:
        for line in self.lines:
            if line.text.startswith(prefix):
                return line
        return None

    def values(self, prefix: str) -> List[str]:
        """The text after ``prefix`` of every line that has it, stripped."""
        return [line.text[len(prefix):].strip() for line in self.lines if line.text.startswith(prefix)]


@dataclass
class EngineStats:
    """What crossed the wire; read by the demo and the benchmarks."""

    commands: int = 0
    payload_writes: int = 0
    bytes_written: int = 0
    bytes_read: int = 0
    reads: int = 0  # reads of the port that returned data: the engine's wake-ups for input
    urcs: int = 0
    protocol_errors: int = 0
    by_name: Counter = field(default_factory=Counter)
    exchange_times: ExchangeTimes = field(default_factory=ExchangeTimes)  # written to final result

    def snapshot(self) -> dict:
        data = {k: v for k, v in self.__dict__.items() if k not in ("by_name", "exchange_times")}
        data["by_name"] = dict(self.by_name)
        data["exchange_seconds"] = {"count": self.exchange_times.count, "sum": self.exchange_times.sum,
                                    "buckets": self.exchange_times.cumulative()}
        return data
