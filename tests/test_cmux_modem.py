"""``open_modem(..., cmux=True)`` end to end: usocket call -> atsock -> TS 27.010 frames on a pty ->
the emulator's own multiplexer -> real host sockets -> a peer on 127.0.0.1.

Commands, notices and command-mode sockets run on DLCI 1; the module is left in plain AT mode on
close; a module an earlier host left multiplexed is brought back; a module that restarts while
multiplexed is recovered; and each reading of the manuals' open points (the emulator's ``cmux``
switches) still works with the driver.
"""
import errno
import time

import pytest
import serial

import atsock
from fakemodem import FakeModem
from fakemodem.cmux_frames import SABM, UIH, Parser, build

from .conftest import emulator_options
from .test_recovery import echo_works, expect_error, wait_for


def cmux_emulator(**cmux):
    return FakeModem("quectel", cmux=cmux, **emulator_options("quectel"))


def open_cmux(fm, **settings):
    return atsock.open_modem(fm.port, dialect="quectel", apn="internet", cmux=True, **settings)


def multiplexed(fm) -> bool:
    return fm.call(lambda: fm.module.cmux.session is not None)


def answers_plain_at(fm) -> bool:
    """Whether the module answers ``AT`` on the plain UART (it has left the multiplexer)."""
    with serial.Serial(fm.port, 115200, timeout=0.5) as port:
        for _ in range(10):
            port.write(b"AT\r")
            if b"OK" in port.read_until(b"OK\r\n"):
                return True
    return False


def test_commands_sockets_and_notices_run_over_the_multiplexer(echo_server):
    with cmux_emulator() as fm, open_cmux(fm) as modem:
        assert multiplexed(fm)
        commands = fm.received_commands
        assert 'AT+QCFG="cmux/urcport",1' in commands and "AT+CMUX=0,0,5,127,10,3,30,10,2" in commands
        assert commands.index("AT+CMUX=0,0,5,127,10,3,30,10,2") < commands.index("ATE0")  # bring-up on DLCI 1
        assert modem.at("AT+CSQ").lines[0].startswith("+CSQ: ")
        assert echo_works(modem, echo_server.port)  # "recv" notices on DLCI 1, QIRD answers
        assert modem.stats["cmux"]["frames_in"] > 0 and modem.stats["cmux"]["dropped"] == 0


def test_close_leaves_the_module_in_plain_at():
    with cmux_emulator() as fm:
        open_cmux(fm).close()
        assert not multiplexed(fm)
        assert answers_plain_at(fm)


def test_without_cmux_nothing_changes(quectel_fake_modem):
    with atsock.open_modem(quectel_fake_modem.port, dialect="quectel", apn="internet") as modem:
        modem.at("AT")
    assert not any(line.startswith(("AT+CMUX", "AT+QCFG")) for line in quectel_fake_modem.received_commands)


def test_the_setting_is_checked():
    with pytest.raises(TypeError):
        atsock.open_modem("/dev/null", dialect="quectel", cmux="yes")
    with pytest.raises(TypeError):  # ESP-AT has no multiplexer
        atsock.open_modem("/dev/null", dialect="esp8285", ssid="x", cmux=True)


def die_in_cmux(fm, last=b"AT+QICSGP=1\r"):
    """A host that multiplexes the line, opens channels and vanishes without a close-down, its
    ``last`` command on DLCI 2 still to be answered."""
    assert answers_plain_at(fm)  # booted
    with serial.Serial(fm.port, 115200, timeout=1) as port:
        port.write(b"AT+CMUX=0,0,5,127,10,3,30,10,2\r")
        assert b"OK" in port.read_until(b"OK\r\n")
        time.sleep(0.3)
        parser = Parser(127)
        for dlci in (0, 1, 2):
            port.write(build(dlci, SABM, command_bit=True, poll=True))
            assert parser.feed(port.read(6))
        port.write(build(2, UIH, last, command_bit=True))
    assert multiplexed(fm)


def test_a_host_that_died_in_cmux_is_recovered_by_the_next_open(echo_server):
    with cmux_emulator() as fm:
        die_in_cmux(fm)
        with open_cmux(fm) as modem:  # SABM 0 answered UA: close-down first, then a fresh multiplexer
            assert echo_works(modem, echo_server.port)
        assert fm.received_commands.count("AT+CMUX=0,0,5,127,10,3,30,10,2") == 2
        assert answers_plain_at(fm)


def test_a_dead_hosts_last_answer_is_not_taken_for_plain_at(echo_server):
    """The answer to the dead host's last command comes while the next open probes with plain AT:
    its OK is inside a frame, so the module still multiplexes."""
    with FakeModem("quectel", qiact_delay=0.8, **emulator_options("quectel")) as fm:
        die_in_cmux(fm, last=b"AT+QIACT=1\r")
        with open_cmux(fm) as modem:
            assert echo_works(modem, echo_server.port)
        assert fm.received_commands.count("AT+CMUX=0,0,5,127,10,3,30,10,2") == 2


def test_a_plain_open_cannot_talk_to_a_module_left_in_cmux():
    with cmux_emulator() as fm:
        die_in_cmux(fm)
        with pytest.raises(OSError) as info:
            atsock.open_modem(fm.port, dialect="quectel", apn="internet", registration_timeout=1, sync_timeout=1)
        assert info.value.args[0] == errno.ETIMEDOUT and "cmux=True" in str(info.value)


def test_a_module_that_restarts_while_multiplexed_is_recovered(echo_server):
    with cmux_emulator() as fm, open_cmux(fm) as modem:
        sock = modem.socket()
        sock.settimeout(10)
        sock.connect(("127.0.0.1", echo_server.port))
        fm.reboot()
        expect_error(sock, errno.ECONNRESET)
        assert wait_for(lambda: modem.state == "online" and modem.recoveries == 1)
        assert multiplexed(fm) and echo_works(modem, echo_server.port)


# the readings of what cmux.md leaves open (fakemodem/README.md): the driver works with each
READINGS = [
    {"uih_poll": True},                       # a BG96 sets P/F on its UIH frames
    {"long_length": True},                    # two-octet lengths on short frames
    {"msc_after_ua": True},                   # an MSC after each UA
    {"cld_address": "copy"},                  # the CLD response with the command's address
    {"urcport": 0},                           # notices to every port until told otherwise
    {"entry_delay": 0.1, "early_frame": "deadlock"},  # BG95: no frame within 100 ms of the OK
    {"test": "silent", "pn": "silent", "psc": "silent", "unknown_channel": "silent"},
    {"settings_scope": "channel"},            # ATE and AT+CMEE per channel
    {"disc0": "ignore"},
    {"exit_delay": 0.5},                      # deaf for a while after the close-down
    {"bad_fcs": "accept"},
]


@pytest.mark.parametrize("reading", READINGS, ids=lambda r: ",".join(f"{k}={v}" for k, v in r.items()))
def test_each_reading_of_the_open_points(reading, echo_server):
    with cmux_emulator(**reading) as fm:
        with open_cmux(fm) as modem:
            assert multiplexed(fm)
            assert modem.at("AT+CSQ").lines[0].startswith("+CSQ: ")
            assert echo_works(modem, echo_server.port)
        assert not multiplexed(fm)
        assert answers_plain_at(fm)


def test_a_module_that_leaves_cmux_when_idle_is_recovered(echo_server):
    with cmux_emulator(idle_exit=0.5) as fm, open_cmux(fm) as modem:
        assert wait_for(lambda: not multiplexed(fm))
        with pytest.raises(OSError):
            modem.at("AT+CSQ", timeout=1)  # its plain answers are noise between frames
        assert wait_for(lambda: modem.state == "online" and modem.recoveries == 1, 60)
        assert echo_works(modem, echo_server.port)
