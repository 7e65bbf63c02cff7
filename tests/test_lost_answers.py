"""Answers the module never gives, and frames it breaks: the caller whose call went unanswered gets
an OSError within its own time-out, the other sockets are held no longer than theirs, nothing
internal escapes to an event loop's exception handler, and recovering logs nothing above INFO."""
import errno
import gc
import logging
import threading
import time
from contextlib import contextmanager

import pytest

import atsock

from .conftest import modem_settings
from .test_recovery import echo_works, wait_for


class Loud(logging.Handler):
    """Every record at WARNING or above, from any logger (asyncio's "Future exception was never
    retrieved" and "Exception in callback" included)."""

    def __init__(self):
        super().__init__(logging.WARNING)
        self.seen = []

    def emit(self, record):
        self.seen.append(f"{record.levelname} {record.name}: {record.getMessage()}")


@contextmanager
def nothing_loud():
    """The block logs nothing above INFO; garbage collected at its end, so that a future whose
    exception nobody retrieved is reported inside it."""
    handler = Loud()
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield handler.seen
        gc.collect()
    finally:
        root.removeHandler(handler)
    assert handler.seen == []


@pytest.mark.parametrize("how", ["absurd", "truncated"])
def test_a_corrupted_read_is_recovered_quietly(modem, fake_modem, echo_server, how):
    with nothing_loud():
        for _ in range(3):  # (it escaped 3 runs in 3)
            victim = modem.socket()
            victim.settimeout(15)
            victim.connect(("127.0.0.1", echo_server.port))
            fake_modem.corrupt_next_read(how)
            victim.write(b"this reply is framed wrongly")
            with pytest.raises(OSError):
                victim.read(28)
            victim.close()
            assert echo_works(modem, echo_server.port)
        assert modem.state == "online" and modem.recoveries == 0


def test_a_hung_module_is_brought_back_quietly(modem, fake_modem, echo_server):
    with nothing_loud():
        fake_modem.hang(5.0)  # outlasts a command and the resync probes after it
        with pytest.raises(OSError) as info:
            modem.at("AT+CSQ", timeout=1)
        assert info.value.args[0] == errno.ETIMEDOUT
        assert wait_for(lambda: modem.state == "online" and modem.recoveries == 1, 40)
        assert echo_works(modem, echo_server.port)
