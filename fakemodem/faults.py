"""Seeded, reproducible fault injection: ``FakeModem(dialect, faults={...}, seed=N)``.

Each fault has a probability per opportunity (a write, a line, a command, a send) unless noted:

==============  ================================================================================
``split``       a write to the host is cut at random byte boundaries, pieces a millisecond apart
``urc``         an unsolicited line the driver must route aside, before a response line
``garbage``     a line of binary noise (it starts with a byte >= 0x80) before a response line
``delay``       *seconds*: each command's answer is delayed by up to this much (uniform)
``send_fail``   a send's payload is taken but refused with ``SEND FAIL``
``busy``        (ESP-AT) a command is answered ``busy p...`` and dropped
``buffer``      *bytes*: the module's per-socket receive and send buffers shrink to this
``reboot``      before a command, the module restarts (the command is lost)
``drop``        before a command, the network takes the data context (Quectel) or the Wi-Fi (ESP)
``echo``        before a command, echo switches back on
``no_final``    a command's final result is never sent
==============  ================================================================================

The same seed gives the same choices for the same sequence of opportunities.
"""
import math
import random
from collections import Counter
from typing import Dict, List, Optional, Tuple

PROBABILITIES = ("split", "urc", "garbage", "send_fail", "busy", "reboot", "drop", "echo", "no_final")
AMOUNTS = ("delay", "buffer")


class Faults:
    def __init__(self, config: Optional[Dict[str, float]] = None, seed: Optional[int] = None):
        self.config = dict(config or {})
        unknown = set(self.config) - set(PROBABILITIES) - set(AMOUNTS)
        if unknown:
            raise ValueError(f"unknown faults: {', '.join(sorted(unknown))} "
                             f"(known: {', '.join(PROBABILITIES + AMOUNTS)})")
        for name, value in self.config.items():
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise ValueError(f"fault {name} needs a finite number, not {value!r}")
        for name in PROBABILITIES:
            if not 0 <= self.config.get(name, 0) <= 1:
                raise ValueError(f"fault {name} is a probability, 0 to 1")
        if self.config.get("delay", 0) < 0:
            raise ValueError("fault delay is a number of seconds, 0 or more")
        if "buffer" in self.config and (self.config["buffer"] < 1 or self.config["buffer"] != int(self.config["buffer"])):
            raise ValueError("fault buffer is a whole number of bytes, 1 or more")
        self.rng = random.Random(seed)
        self.fired = Counter()  # how often each fault happened, for tests and the CLI

    def __bool__(self) -> bool:
        return bool(self.config)

    def chance(self, name: str) -> bool:
        probability = self.config.get(name, 0)
        if probability and self.rng.random() < probability:
            self.fired[name] += 1
            return True
        return False

    def delay(self) -> float:
        longest = self.config.get("delay", 0)
        if not longest:
            return 0.0
        self.fired["delay"] += 1
        return self.rng.uniform(0, longest)

    def buffer(self, default: int) -> int:
        return int(self.config.get("buffer", default))

    def pieces(self, data: bytes) -> List[bytes]:
        cuts = sorted(self.rng.sample(range(1, len(data)), min(len(data) - 1, self.rng.randint(1, 4))))
        return [data[a:b] for a, b in zip([0] + cuts, cuts + [len(data)])]

    def garbage_line(self) -> bytes:
        noise = bytes(self.rng.choice([b for b in range(256) if b not in (10, 13)])
                      for _ in range(self.rng.randint(1, 40)))
        return b"\r\n" + bytes([self.rng.randint(0x80, 0xFF)]) + noise + b"\r\n"

    def noise(self, urc_lines) -> bytes:
        """What may come before a response line: a benign URC, a garbage line, or nothing."""
        out = b""
        if urc_lines and self.chance("urc"):
            out += b"\r\n" + self.rng.choice(urc_lines).encode() + b"\r\n"
        if self.chance("garbage"):
            out += self.garbage_line()
        return out


def parse_cli(item: str) -> Tuple[str, float]:
    """``"split=0.2"`` -> ``("split", 0.2)``, checked as :class:`Faults` checks it; ValueError if not."""
    name, sep, text = item.partition("=")
    if not sep:
        raise ValueError(f"expected NAME=VALUE, got {item!r}")
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"fault {name}: {text!r} is not a number") from None
    Faults({name: value})
    return name, value
