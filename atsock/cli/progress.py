"""A one-line progress bar (bytes, rate, ETA) for a terminal; a few lines of our own instead of a
dependency, since one bar on stderr is all the command line needs."""
import shutil
import time
from typing import Optional, TextIO

REFRESH = 0.1  # seconds between redraws


def human_bytes(count: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if count < 1024 or unit == "GiB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1024
    return f"{count:.1f} GiB"


def clock(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}" if seconds >= 3600 \
        else f"{seconds // 60}:{seconds % 60:02d}"


class ProgressBar:
    def __init__(self, stream: TextIO, total: Optional[int] = None):
        self.stream = stream
        self.total = total
        self.done = 0
        self._started = time.monotonic()
        self._drawn = 0.0

    def update(self, count: int) -> None:
        self.done += count
        now = time.monotonic()
        if now - self._drawn >= REFRESH:
            self._drawn = now
            self._draw(now)

    def finish(self) -> None:
        self._draw(time.monotonic())
        self.stream.write("\n")
        self.stream.flush()

    def _draw(self, now: float) -> None:
        elapsed = max(now - self._started, 1e-6)
        rate = self.done / elapsed
        text = f"{human_bytes(self.done)}  {human_bytes(rate)}/s"
        width = shutil.get_terminal_size((80, 24)).columns
        if self.total:
            share = min(self.done / self.total, 1.0)
            eta = (self.total - self.done) / rate if rate > 0 else 0
            text = f"{share:4.0%} {{bar}} {human_bytes(self.done)} / {human_bytes(self.total)}  " \
                   f"{human_bytes(rate)}/s  ETA {clock(eta)}"
            room = max(10, width - len(text.format(bar="")) - 3)
            filled = int(room * share)
            text = text.format(bar="[" + "#" * filled + " " * (room - filled) + "]")
        self.stream.write("\r" + text[: width - 1])
        self.stream.flush()
