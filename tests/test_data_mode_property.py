"""The data-mode property (bench/datamode_fuzz.py) in its short form, in every run: payloads biased
toward ``+`` runs and the modules' own words, with random pauses (the guard time among them), go
through data mode both ways byte for byte, and the modem answers ``AT`` afterwards.
``python -m bench.datamode_fuzz --examples N`` runs the long form; ``ATSOCK_DATAMODE_EXAMPLES``
sets the count here."""
import os

import pytest

from bench.datamode_fuzz import check

from .conftest import emulator_options, modem_settings
from .test_data_mode import GUARD

EXAMPLES = int(os.environ.get("ATSOCK_DATAMODE_EXAMPLES", "12"))


@pytest.mark.parametrize("dialect", ["quectel", "esp8285"])
def test_any_payload_goes_through_data_mode_exactly(dialect):
    assert check(dialect, EXAMPLES, GUARD, emulator_options(dialect), modem_settings(dialect)) == EXAMPLES
