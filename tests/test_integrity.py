"""Every fault the emulator can inject x (download, upload, echo) x dialect: all bytes in order, or
an OSError with an exact prefix delivered. Never silent loss, duplication, corruption or a hang."""
import pytest

from bench.integrity import cases, run_case


@pytest.mark.parametrize("dialect,fault,operation", list(cases()))
def test_every_byte_delivered_in_order_or_an_oserror(dialect, fault, operation):
    outcome = run_case(dialect, fault, operation)
    assert outcome.acceptable, outcome
