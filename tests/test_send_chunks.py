"""Sends in command mode: chunk sizes per firmware, and chunks chained one after another."""
import os

import pytest

import atsock
from fakemodem import FakeModem

from .conftest import WIFI, emulator_options


def send_lengths(fm, command):
    return [int(line.rsplit(",", 1)[1]) for line in fm.received_commands if line.startswith(command + "=")]


@pytest.mark.parametrize("firmware,setting,chunk", [("1.7", None, 2048), ("2.2", None, 2048), ("2.4", None, 8192),
                                                    ("2.4", 3000, 3000)])
def test_esp_sends_as_much_as_the_firmware_takes(firmware, setting, chunk, echo_server):
    settings = dict(WIFI) if setting is None else dict(WIFI, send_max=setting)
    payload = os.urandom(3 * chunk + 100)
    with FakeModem("esp8285", firmware=firmware, **emulator_options("esp8285")) as fm, \
            atsock.open_modem(fm.port, dialect="esp8285", **settings) as modem:
        sock = modem.socket()
        sock.settimeout(30)
        sock.connect(("127.0.0.1", echo_server.port))
        sock.sendall(payload)
        assert sock.read(len(payload)) == payload
        assert send_lengths(fm, "AT+CIPSEND") == [chunk] * 3 + [100]
        sock.close()


def test_esp_send_max_is_checked():
    with pytest.raises(ValueError):
        atsock.open_modem("/dev/null", dialect="esp8285", send_max=8193)


def test_quectel_chunks_follow_one_another_and_a_full_buffer_is_offered_again(echo_server):
    payload = os.urandom(20 * 1460 + 7)
    with FakeModem("quectel", faults={"send_fail": 0.2}, seed=3, **emulator_options("quectel")) as fm, \
            atsock.open_modem(fm.port, dialect="quectel", apn="internet") as modem:
        sock = modem.socket()
        sock.settimeout(30)
        sock.connect(("127.0.0.1", echo_server.port))
        sock.sendall(payload)
        assert sock.read(len(payload)) == payload
        lengths = send_lengths(fm, "AT+QISEND")
        assert len(lengths) > 21  # SEND FAIL answers: the same chunk again
        assert sorted(set(lengths)) == [7, 1460]
        sock.close()
