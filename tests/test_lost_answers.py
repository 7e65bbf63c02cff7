"""Answers the module never gives, and frames it breaks: the caller whose call went unanswered gets
an OSError within its own time-out, the other sockets are held no longer than theirs, nothing
internal escapes to an event loop's exception handler, and recovering logs nothing above INFO."""
import errno
import gc
import logging
from contextlib import contextmanager

import pytest

import atsock

from .conftest import modem_settings
from .test_recovery import echo_works, in_background, wait_for


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


SENDS = {"quectel": "AT+QISEND=", "esp8285": "AT+CIPSEND="}
PROBES = {"quectel": "AT+CMEE?", "esp8285": "AT+CIPMUX?"}  # the engine's resync probe


def test_a_send_never_answered_is_bounded_by_the_callers_time_out(fake_modem, dialect, echo_server, udp_echo):
    """SEND OK never comes. The module may take its manual's time to answer (here 60 s), and takes
    no other command meanwhile: the sender gets ETIMEDOUT at its own time-out and its socket is
    failed (the stream is unknown); the other sockets' calls end at theirs, their streams intact;
    nothing they gave up on goes out later."""
    settings = dict(modem_settings(dialect), timeouts={"send": 60})
    with atsock.open_modem(fake_modem.port, dialect=dialect, **settings) as modem, nothing_loud():
        stuck, other = modem.socket(), modem.socket()
        udp = modem.socket(atsock.AF_INET, atsock.SOCK_DGRAM)
        for sock in (stuck, other):
            sock.settimeout(10)
            sock.connect(("127.0.0.1", echo_server.port))
        udp.bind(("", 0))
        other_id = fake_modem.call(lambda: max(fake_modem.module.open_ids()))  # (ids are given in order)
        fake_modem.set_faults({"no_final": 1})
        stuck.settimeout(2)
        sender, outcome = in_background(lambda: stuck.send(b"its SEND OK is lost"))
        sender.join(30)
        fake_modem.set_faults({})  # from here on the module answers everything but that send
        assert outcome["error"].args[0] == errno.ETIMEDOUT
        for call in (lambda s: s.send(b"x"), lambda s: s.recv(1), lambda s: s.read(1)):
            with pytest.raises(OSError) as info:  # failed for good: no command goes out for it
                call(stuck)
            assert info.value.args[0] == errno.ETIMEDOUT

        other.settimeout(1)
        udp.settimeout(1)
        listener = modem.socket()
        listener.settimeout(1)
        for call in (lambda: other.send(b"withdrawn"), lambda: other.sendall(b"withdrawn"), lambda: other.recv(1),
                     lambda: udp.sendto(b"withdrawn", ("127.0.0.1", udp_echo.port)), lambda: listener.listen(1),
                     lambda: modem.at("AT", timeout=1)):
            with pytest.raises(OSError) as info:
                call()
            assert info.value.args[0] == errno.ETIMEDOUT
        listener.close()  # waits for the module at most its time-out
        stuck.close()
        sent = fake_modem.received_commands
        assert PROBES[dialect] not in sent  # the module's own budget had not run out: the callers' did
        assert not any(c.startswith(f"{SENDS[dialect]}{other_id},") for c in sent)

        fake_modem.inject(b"\r\nSEND OK\r\n")  # the late answer: the engine goes on at once
        other.settimeout(10)
        other.sendall(b"intact")
        assert other.read(6) == b"intact"  # nothing withdrawn went out: the echo is just this
        with pytest.raises(OSError) as info:
            stuck.send(b"x")
        assert info.value.args[0] == errno.EBADF
        assert echo_works(modem, echo_server.port)
        other.close()
        udp.close()
        assert wait_for(lambda: modem.socket_ids() == [], 10)
        assert modem.state == "online" and modem.recoveries == 0
