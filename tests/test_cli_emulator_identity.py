"""The emulator's identification and status answers, byte for byte against the transcripts of
shared/at-reference/info-and-ports.md (§4.1, a BG95-M3; §4.3) and esp-at.md §1, read straight off the pty."""
import os
import re
import select
import subprocess
import sys
import time
import tty

import pytest

from fakemodem import FakeModem

FINAL = re.compile(rb"(OK|ERROR|\+CME ERROR: \d+)\r\n$")

QUECTEL_TRANSCRIPT = [  # §4.1 (echo off)
    (b"ATI", b"\r\nQuectel\r\nBG95-M3\r\nRevision: BG95M3LAR02A03\r\n\r\nOK\r\n"),
    (b"AT+QGMR", b"\r\nBG95M3LAR02A03_01.006.01.006\r\n\r\nOK\r\n"),
    (b"AT+GSN", b"\r\n866349041749536\r\n\r\nOK\r\n"),
    (b"AT+QCCID", b"\r\n+QCCID: 8939560000000806706F\r\n\r\nOK\r\n"),
    (b"AT+CIMI", b"\r\n901405100000001\r\n\r\nOK\r\n"),
    (b"AT+CSQ", b"\r\n+CSQ: 19,99\r\n\r\nOK\r\n"),
    (b"AT+QCSQ", b'\r\n+QCSQ: "eMTC",-62,-87,111,-12\r\n\r\nOK\r\n'),
    (b"AT+COPS?", b'\r\n+COPS: 0,0,"Example Net",7\r\n\r\nOK\r\n'),
    (b"AT+QNWINFO", b'\r\n+QNWINFO: "eMTC","24701","LTE BAND 20",6300\r\n\r\nOK\r\n'),
    (b'AT+QICSGP=1,1,"internet","",""', b"\r\nOK\r\n"),
    (b"AT+QIACT=1", b"\r\nOK\r\n"),
    (b"AT+CGPADDR=1", b'\r\n+CGPADDR: 1,"10.64.12.7"\r\n\r\nOK\r\n'),
    (b"AT+QIACT?", b'\r\n+QIACT: 1,1,1,"10.64.12.7"\r\n\r\nOK\r\n'),
]


class RawPort:
    """The pty opened with nothing but os calls: what any host program would read."""

    def __init__(self, path: str, eol: bytes):
        self.fd = os.open(path, os.O_RDWR | os.O_NOCTTY)
        tty.setraw(self.fd)
        self.eol = eol
        self._sync()

    def _sync(self) -> None:
        """Input before the module has booted is lost, as on a module: AT until it answers."""
        deadline = time.monotonic() + 10
        while not self.ask(b"AT", patience=0.2).endswith(b"\r\nOK\r\n"):  # echoed or not
            assert time.monotonic() < deadline, "the emulator never answered AT"

    def ask(self, command: bytes, patience: float = 10) -> bytes:
        os.write(self.fd, command + self.eol)
        answer, deadline = b"", time.monotonic() + patience
        while not FINAL.search(answer) or self._more(0.05):
            if time.monotonic() > deadline:
                assert patience < 10, f"no final result to {command!r}: {answer!r}"
                return answer
            if self._more(0.1):
                answer += os.read(self.fd, 4096)
        return answer

    def _more(self, seconds: float) -> bool:
        return bool(select.select([self.fd], [], [], seconds)[0])

    def close(self) -> None:
        os.close(self.fd)


@pytest.fixture
def quectel_port():
    with FakeModem("quectel", model="BG95", echo=False, boot_urcs=()) as fm:
        port = RawPort(fm.port, b"\r")
        yield fm, port
        port.close()


def test_quectel_answers_as_the_transcript(quectel_port):
    _, port = quectel_port
    for command, answer in QUECTEL_TRANSCRIPT:
        assert port.ask(command) == answer, command


def test_quectel_other_names_and_forms(quectel_port):
    _, port = quectel_port
    assert port.ask(b"AT+CGMI") == port.ask(b"AT+GMI") == b"\r\nQuectel\r\n\r\nOK\r\n"
    assert port.ask(b"AT+CGMM") == port.ask(b"AT+GMM") == b"\r\nBG95-M3\r\n\r\nOK\r\n"
    assert port.ask(b"AT+CGMR") == port.ask(b"AT+GMR") == b"\r\nBG95M3LAR02A03\r\n\r\nOK\r\n"
    assert port.ask(b"AT+CGSN") == b"\r\n866349041749536\r\n\r\nOK\r\n"
    assert port.ask(b"AT+CSQ=?") == b"\r\n+CSQ: (0-31,99),(0-7,99)\r\n\r\nOK\r\n"
    assert port.ask(b"AT+CGPADDR=2") == b"\r\n+CGPADDR: 2\r\n\r\nOK\r\n"  # a context that is not active
    assert port.ask(b"AT+CGPADDR=99") == b"\r\nERROR\r\n"
    assert port.ask(b"AT+COPS=?") == b"\r\nERROR\r\n"  # the minutes-long scan is not emulated
    assert port.ask(b"AT+GSN?") == b"\r\nERROR\r\n"


def test_quectel_without_service_or_sim():
    with FakeModem("quectel", model="BG95", echo=False, boot_urcs=(), registration_delay=3600, sim="absent") as fm:
        port = RawPort(fm.port, b"\r")
        try:
            assert port.ask(b"AT+CSQ") == b"\r\n+CSQ: 99,99\r\n\r\nOK\r\n"
            assert port.ask(b"AT+QCSQ") == b'\r\n+QCSQ: "NOSERVICE"\r\n\r\nOK\r\n'
            assert port.ask(b"AT+COPS?") == b"\r\n+COPS: 0\r\n\r\nOK\r\n"
            assert port.ask(b"AT+QNWINFO") == b"\r\n+QNWINFO: No Service\r\n\r\nOK\r\n"
            assert port.ask(b"AT+QCCID") == b"\r\nERROR\r\n"
            assert port.ask(b"AT+CMEE=1") == b"\r\nOK\r\n"
            assert port.ask(b"AT+CIMI") == b"\r\n+CME ERROR: 10\r\n"
            assert port.ask(b"AT+GSN") == b"\r\n866349041749536\r\n\r\nOK\r\n"  # the IMEI needs no SIM
        finally:
            port.close()


def test_quectel_values_are_configurable():
    identity = {"model": "BG96", "revision": "BG96MAR02A10M1G", "app_version": "01.016.01.016",
                "imei": "351234567890123", "iccid": "89014103211118510720", "imsi": "310260000000001",
                "csq": "12,99", "sysmode": "CAT-M1", "signal": "-80,-101,85,-13", "operator": "Other",
                "cops_act": 8, "act": "CAT-M1", "band": "LTE BAND 12", "channel": 5110}
    with FakeModem("quectel", model="BG95", echo=False, boot_urcs=(), identity=identity) as fm:
        port = RawPort(fm.port, b"\r")
        try:
            assert port.ask(b"ATI") == b"\r\nQuectel\r\nBG96\r\nRevision: BG96MAR02A10M1G\r\n\r\nOK\r\n"
            assert port.ask(b"AT+QGMR") == b"\r\nBG96MAR02A10M1G_01.016.01.016\r\n\r\nOK\r\n"
            assert port.ask(b"AT+CSQ") == b"\r\n+CSQ: 12,99\r\n\r\nOK\r\n"
            assert port.ask(b"AT+QCSQ") == b'\r\n+QCSQ: "CAT-M1",-80,-101,85,-13\r\n\r\nOK\r\n'
            assert port.ask(b"AT+COPS?") == b'\r\n+COPS: 0,0,"Other",8\r\n\r\nOK\r\n'
            assert port.ask(b"AT+QNWINFO") == b'\r\n+QNWINFO: "CAT-M1","24701","LTE BAND 12",5110\r\n\r\nOK\r\n'
            assert port.ask(b"AT+GSN") == b"\r\n351234567890123\r\n\r\nOK\r\n"
        finally:
            port.close()
    with pytest.raises(TypeError):
        FakeModem("quectel", identity={"imie": "1"})
    for wrong in ({"csq": "12"}, {"channel": "six"}, {"operator": 'a"b'}, {"imei": "1\r\nOK"}):
        with pytest.raises(ValueError):
            FakeModem("quectel", identity=wrong)


def test_each_model_answers_with_its_profile():
    with FakeModem("quectel", model="EC200U", echo=False, boot_urcs=()) as fm:
        port = RawPort(fm.port, b"\r")
        try:
            assert port.ask(b"ATI") == b"\r\nQuectel\r\nEC200U\r\nRevision: EC200UCNAAR03A15M08\r\n\r\nOK\r\n"
            assert port.ask(b"AT+QNWINFO") == b'\r\n+QNWINFO: "TDD LTE","46000","LTE BAND 41",40936\r\n\r\nOK\r\n'
            assert port.ask(b"AT+CGPADDR=8") == b"\r\nERROR\r\n"  # contexts 1-7 on this model
        finally:
            port.close()


def test_the_command_line_sets_values_too():
    process = subprocess.Popen([sys.executable, "-m", "fakemodem", "quectel", "--identity", "imei=351234567890123",
                                "--identity", "csq=7,99"], stdout=subprocess.PIPE, text=True)
    try:
        port = RawPort(process.stdout.readline().strip(), b"\r")
        try:
            port.ask(b"ATE0")
            assert port.ask(b"AT+GSN") == b"\r\n351234567890123\r\n\r\nOK\r\n"
            assert port.ask(b"AT+CSQ") == b"\r\n+CSQ: 7,99\r\n\r\nOK\r\n"
        finally:
            port.close()
    finally:
        process.terminate()
        process.wait(timeout=10)


ESP_2X_GMR = [  # §4.3, set through the identity values
    "AT version:2.2.0.0-dev(ca41ec4 - ESP32 - Sep 16 2020 11:28:17)", "SDK version:v4.0.1-193-ge7ac221b4",
    "compile time(98b95fc):Oct 29 2020 11:23:25", "Bin version:2.1.0(MINI-1)"]


def test_esp_2x_answers_as_the_transcript():
    with FakeModem("esp8285", firmware="2.2.0", echo=False, networks={"lab-net": "secret"},
                   identity={"gmr_lines": "|".join(ESP_2X_GMR)}) as fm:
        port = RawPort(fm.port, b"\r\n")
        try:
            assert port.ask(b"AT+GMR") == "\r\n".join(ESP_2X_GMR).encode() + b"\r\n\r\nOK\r\n"
            assert port.ask(b"AT+CIPSTAMAC?") == b'+CIPSTAMAC:"a4:cf:12:00:11:22"\r\n\r\nOK\r\n'
            assert port.ask(b"AT+CWJAP?") == b"No AP\r\n\r\nOK\r\n"
            port.ask(b'AT+CWJAP="lab-net","secret"')
            assert port.ask(b"AT+CWJAP?") == b'+CWJAP:"lab-net","9c:53:22:10:20:30",6,-58,0,1,3,0,1\r\n\r\nOK\r\n'
            assert port.ask(b"AT+CWJAP_CUR?") == b"\r\nERROR\r\n"  # 2.x has no _CUR names
        finally:
            port.close()


def test_esp_1x_answers():
    with FakeModem("esp8285", echo=False, networks={"lab-net": "secret"}, identity={"rssi": -71}) as fm:
        port = RawPort(fm.port, b"\r\n")
        try:
            assert port.ask(b"AT+GMR") == (b"AT version:1.7.4.0(May 11 2020 19:13:04)\r\nSDK version:3.0.4(9532ceb)\r\n"
                                           b"compile time:May 27 2020 10:12:17\r\nBin version(Wroom 02):1.7.4\r\n"
                                           b"\r\nOK\r\n")                                    # esp-at.md §1
            assert port.ask(b"AT+CIPSTAMAC_CUR?") == b'+CIPSTAMAC_CUR:"a4:cf:12:00:11:22"\r\n\r\nOK\r\n'
            port.ask(b'AT+CWJAP_CUR="lab-net","secret"')
            assert port.ask(b"AT+CWJAP_CUR?") == b'+CWJAP_CUR:"lab-net","9c:53:22:10:20:30",6,-71,0\r\n\r\nOK\r\n'
            assert port.ask(b'AT+CIPSTAMAC_CUR="02:00:00:aa:bb:cc"') == b"\r\nOK\r\n"
            assert b'+CIFSR:STAMAC,"02:00:00:aa:bb:cc"' in port.ask(b"AT+CIFSR")
        finally:
            port.close()
