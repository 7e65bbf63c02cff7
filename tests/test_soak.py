"""A short soak in every run (the full count: ``python -m bench.soak``): no leaked connectIDs,
threads or descriptors, and memory that does not grow with the number of cycles."""
import os

import pytest

from bench.soak import soak

CYCLES = int(os.environ.get("ATSOCK_SOAK_CYCLES", "400"))  # enough that a one-off resize is not a "leak"


@pytest.mark.parametrize("dialect", ["quectel", "esp8285"])
def test_open_transfer_close_cycles_leak_nothing(dialect):
    result = soak(dialect, CYCLES)
    before, after = result["before"], result["after"]
    assert result["driver_links_left"] == 0 and result["module_ids_left"] == 0
    assert after["threads"] == before["threads"]
    assert after["descriptors"] == before["descriptors"]
    # memory must not scale with the cycles: the second half may not add what the first half did
    assert result["growth_per_cycle"] < 100, result
