"""A short soak in every run (the full count: ``python -m bench.soak``): no leaked connectIDs,
threads or descriptors, and memory that does not grow with the number of cycles.

It runs in a process of its own: threads and allocations left by the suite's other tests (their
peers' worker threads) would otherwise be counted as the driver's."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CYCLES = int(os.environ.get("ATSOCK_SOAK_CYCLES", "1000"))  # enough that one-off resizes are not a "leak"
RUN = "import json, sys; from bench.soak import soak; print(json.dumps(soak(sys.argv[1], int(sys.argv[2]))))"


@pytest.mark.parametrize("dialect", ["quectel", "esp8285"])
def test_open_transfer_close_cycles_leak_nothing(dialect):
    done = subprocess.run([sys.executable, "-c", RUN, dialect, str(CYCLES)], capture_output=True, text=True,
                          timeout=600, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    before, after = result["before"], result["after"]
    assert result["driver_links_left"] == 0 and result["module_ids_left"] == 0
    assert after["threads"] == before["threads"]
    assert after["descriptors"] == before["descriptors"]
    # memory must not scale with the cycles: the second half may not add what the first half did
    assert result["growth_per_cycle"] < 100, result
