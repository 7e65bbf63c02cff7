"""How long ``import atsock`` takes: ``python -X importtime`` in fresh processes, best and median.

Byte-code caches are allowed (an installed package has them): the first run writes them.
"""
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _once(env) -> float:
    done = subprocess.run([sys.executable, "-X", "importtime", "-c", "import atsock"], capture_output=True,
                          text=True, cwd=ROOT, env=env, timeout=60)
    line = [line for line in done.stderr.splitlines() if line.rstrip().endswith("| atsock")][-1]
    return int(line.split("|")[1]) / 1000  # cumulative microseconds -> milliseconds


def measure(runs: int = 9) -> dict:
    env = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}
    _once(env)
    times = [_once(env) for _ in range(runs)]
    return {"best_ms": min(times), "median_ms": statistics.median(times), "runs": runs}


if __name__ == "__main__":
    print(measure())
