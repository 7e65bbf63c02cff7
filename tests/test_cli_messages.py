"""What the command line says when something is wrong: the cause in words, the hint that fits it,
the flag to use, and nothing else; and the conventions every command shares (the port, dialect
names, secrets, options anywhere)."""
import errno
import logging
import os
import pty
import re
import threading
import time
from types import SimpleNamespace

import pytest
import serial

import atsock
from atsock.wire import transport
from atsock.cli import options, ports
from atsock.cli.explain import explain
from atsock.cli.serialat import SerialAT
from atsock.errors import ModemError
from fakemodem import FakeModem

from .cli_support import run_atsock
from .conftest import WIFI, emulator_options

URL = "http://www.test/"
BRING_UP = ("AT+RST", "AT+QICSGP", "AT+CWJAP", "AT+CWJAP_CUR", "AT+CPIN", "AT+QIACT")


def _no_env(*names):
    return {k: v for k, v in os.environ.items() if k not in names}


def _plain(stderr: str) -> None:
    """One line of cause and hint: no Python errno prefix, no log noise before it."""
    assert "[Errno" not in stderr and "port_lost" not in stderr and "Traceback" not in stderr, stderr
    assert len(stderr.strip().splitlines()) == 1, stderr


# --- hints follow the cause ------------------------------------------------------------------------
def test_a_wrong_wifi_password_names_the_key_flag_not_the_dialout_group():
    with FakeModem("esp8285", networks={"lab-net": "right"}) as fm:
        done = run_atsock("get", fm.port, "--ssid", "lab-net", "--key", "wrong", URL)
    assert done.returncode == 69
    assert "wrong Wi-Fi password: 'lab-net'; check --key (or $ATSOCK_WIFI_KEY" in done.stderr
    assert "dialout" not in done.stderr
    assert "open_modem" not in done.stderr
    _plain(done.stderr)


def test_a_locked_sim_names_the_pin_flag():
    with FakeModem("quectel", sim="pin") as fm:
        done = run_atsock("get", fm.port, "--apn", "internet", URL)
    assert done.returncode == 69
    assert "the SIM is locked with a PIN" in done.stderr and "give it with --pin (or $ATSOCK_PIN" in done.stderr
    assert "dialout" not in done.stderr
    assert "pin=" not in done.stderr
    _plain(done.stderr)


def test_the_pin_comes_from_a_file_or_the_environment(tmp_path, http_server):
    (tmp_path / "pin").write_text("4321\n")  # the emulator's SIM is given this PIN
    url = f"http://www.test:{http_server.server_address[1]}/index.html"
    for source, env in ((["--pin-file", str(tmp_path / "pin")], None), ([], dict(os.environ, ATSOCK_PIN="4321"))):
        with FakeModem("quectel", sim="pin", pin="4321", **emulator_options("quectel")) as fm:
            done = run_atsock("get", fm.port, "--apn", "internet", *source, url, env=env)
            assert done.returncode == 0, done.stderr
            assert 'AT+CPIN="4321"' in fm.received_commands
        assert "hello from the test server" in done.stdout


def test_the_wifi_key_comes_from_a_file_or_the_environment(tmp_path, http_server):
    (tmp_path / "key").write_text(WIFI["key"] + "\n")
    url = f"http://www.test:{http_server.server_address[1]}/index.html"
    env = dict(_no_env("ATSOCK_WIFI_KEY"), ATSOCK_WIFI_KEY=WIFI["key"], ATSOCK_PIN="1234")  # a PIN is no ESP's
    for source, environment in ((["--key-file", str(tmp_path / "key")], _no_env("ATSOCK_WIFI_KEY")), ([], env)):
        with FakeModem("esp8285", **emulator_options("esp8285")) as fm:
            done = run_atsock("get", fm.port, "--ssid", WIFI["ssid"], *source, url, env=environment)
        assert done.returncode == 0 and "hello from the test server" in done.stdout, done.stderr


def test_an_esp_without_a_network_to_join_asks_for_ssid_and_key():
    with FakeModem("esp8285", networks={"lab-net": "right"}) as fm:
        done = run_atsock("get", fm.port, URL, env=_no_env("ATSOCK_WIFI_KEY"))
    assert done.returncode == 69 and "give --ssid and --key" in done.stderr
    _plain(done.stderr)


def test_wifi_joins_it_does_not_register():
    with FakeModem("esp8285", networks={"lab-net": "right"}) as fm:
        with atsock.open_modem(fm.port, dialect="esp8285") as modem:
            with pytest.raises(OSError) as failure:
                modem.socket().connect(("127.0.0.1", 80))
    assert failure.value.errno == errno.ENETDOWN and "modem is joining Wi-Fi, not online" in str(failure.value)


def test_a_missing_port_suggests_atsock_ports():
    for command in (["info"], ["at"], ["get"], ["socks"]):
        done = run_atsock(*command, "/dev/ttyNOPE", *([URL] if command == ["get"] else []))
        assert done.returncode == (69 if command == ["get"] else 1)
        assert done.stderr.endswith(": /dev/ttyNOPE: no such serial port; `atsock ports` lists the serial ports\n")
        _plain(done.stderr)


def test_the_dialout_hint_goes_with_a_permission_error_on_the_port_only(monkeypatch):
    def refused(*args, **kwargs):
        raise serial.SerialException(errno.EACCES, "could not open port /dev/ttyAMA0: [Errno 13] Permission denied")

    monkeypatch.setattr(serial, "Serial", refused)
    with pytest.raises(OSError) as failure:
        transport.open_port("/dev/ttyAMA0", 115200)
    assert (failure.value.errno, failure.value.filename) == (errno.EACCES, "/dev/ttyAMA0")
    assert "dialout" in explain(failure.value, "/dev/ttyAMA0")
    assert "dialout" not in explain(PermissionError(errno.EACCES, "Permission denied", "/srv/page.html"),
                                    "/dev/ttyAMA0")                                  # -o into a closed directory
    assert "dialout" not in explain(ModemError(errno.EACCES, "wrong Wi-Fi password", advice="check {setting}", setting="key"), None)
    assert "dialout" not in explain(ModemError(errno.EACCES, "SIM is locked (SIM PUK)"), "/dev/ttyAMA0")


def test_a_listen_address_in_use_is_named(quectel_fake_modem):
    import socket

    with socket.create_server(("127.0.0.1", 0)) as taken:
        address = f"127.0.0.1:{taken.getsockname()[1]}"
        done = run_atsock("socks", quectel_fake_modem.port, "--apn", "internet", "--listen", address)
    assert done.returncode == 1
    assert done.stderr == f"atsock socks: {address} is already in use by another program: choose another " \
                          "address with --listen\n"


# --- the wrong dialect, and a wrong line rate -----------------------------------------------------
@pytest.mark.parametrize("command", ["info", "get"])
def test_the_wrong_dialect_is_named_before_any_bring_up(command):
    extra = ["--apn", "internet", URL] if command == "get" else []
    with FakeModem("esp8285", networks={"lab-net": "right"}) as fm:
        done = run_atsock(command, fm.port, "--dialect", "quectel", *extra)
        sent = fm.received_commands
    assert done.returncode != 0
    assert f"{fm.port} speaks ESP-AT, not Quectel: give --dialect esp8285" in done.stderr
    assert not [c for c in sent if c.startswith(BRING_UP)], sent  # it said so instead of trying
    _plain(done.stderr)
    with FakeModem("quectel") as fm:
        done = run_atsock(command, fm.port, "--dialect", "esp8266", *(["--ssid", "x", URL] if extra else []))
        sent = fm.received_commands
    assert f"{fm.port} speaks Quectel, not ESP-AT: give --dialect quectel" in done.stderr
    assert not [c for c in sent if c.startswith(BRING_UP)], sent


class NoisyLine:
    """A port read at the wrong line rate: whatever is sent to it, what comes back is noise."""

    def __init__(self):
        self.master, slave = pty.openpty()
        self.port = os.ttyname(slave)
        self._slave = slave
        threading.Thread(target=self._answer, daemon=True).start()

    def _answer(self):
        try:
            while os.read(self.master, 1024):
                os.write(self.master, bytes([0xF0, 0x80, 0xFE, 0x00, 0x9C, 0xE6, 0x18, 0xFF]) * 3)
        except OSError:
            pass

    def close(self):
        os.close(self._slave)
        os.close(self.master)


def test_bytes_that_are_not_text_point_at_the_baudrate():
    line = NoisyLine()
    try:
        done = run_atsock("info", line.port)
        console = run_atsock("at", "--timeout", "0.5", line.port, "AT")
    finally:
        line.close()
    assert done.returncode == 1 and "sends bytes that are not text" in done.stderr
    assert "the wrong --baudrate?" in done.stderr and "\\xf0\\x80\\xfe" in done.stderr
    assert console.returncode == 1 and "the wrong --baudrate?" in console.stderr


# --- one port convention ---------------------------------------------------------------------------
def test_every_command_takes_the_port_from_atsock_port(quectel_fake_modem):
    env = dict(os.environ, ATSOCK_PORT=quectel_fake_modem.port)
    info = run_atsock("info", "--json", env=env)
    assert info.returncode == 0 and f'"port": "{quectel_fake_modem.port}"' in info.stdout
    at = run_atsock("at", "AT+CSQ", env=env)  # the first word is a command, not a port
    assert at.returncode == 0 and at.stdout.splitlines() == ["+CSQ: 19,99", "OK"]


def _booted(fm) -> None:
    """Past the emulator's boot banner (a module just powered on drops what it is sent meanwhile)."""
    with SerialAT(fm.port) as port:
        assert any(port.exchange("AT", 1.0) for _ in range(20))


def test_without_a_port_the_one_that_answers_at_is_used(monkeypatch):
    with FakeModem("quectel") as answering, FakeModem("quectel") as silent:
        _booted(answering)
        silent.hang(60)
        listed = [SimpleNamespace(device=fm.port, vid=None, pid=None, serial_number=None, location=None,
                                  manufacturer=None, product=None, interface=None) for fm in (silent, answering)]
        monkeypatch.setattr(ports.list_ports, "comports", lambda: listed)
        monkeypatch.delenv("ATSOCK_PORT", raising=False)
        args = SimpleNamespace(port=None, baudrate=115200)
        assert options.resolve_port(args) == answering.port == args.port
        listed.append(listed[1])  # the same port twice: two that answer, and no way to choose
        with pytest.raises(ValueError, match="several answer AT"):
            options.resolve_port(SimpleNamespace(port=None, baudrate=115200))
    monkeypatch.setattr(ports.list_ports, "comports", lambda: [])
    with pytest.raises(ValueError, match="none of the serial ports answers AT.*ATSOCK_PORT"):
        options.resolve_port(SimpleNamespace(port=None, baudrate=115200))


# --- dialect names, --auth, --ip-version -----------------------------------------------------------
@pytest.mark.parametrize("name", ["esp8266", "esp-at", "esp8285"])
def test_every_esp_name_is_a_dialect(name, http_server):
    url = f"http://www.test:{http_server.server_address[1]}/index.html"
    with FakeModem("esp8285", firmware="2.2", **emulator_options("esp8285")) as fm:
        done = run_atsock("get", fm.port, "--dialect", name, "--ssid", WIFI["ssid"], "--key", WIFI["key"],
                          "--ip-version", "ipv4v6", url)
        sent = fm.received_commands
    assert done.returncode == 0 and "hello from the test server" in done.stdout, done.stderr
    assert "AT+CIPV6=1" in sent


def test_auth_and_ip_version_reach_the_data_context(http_server):
    url = f"http://www.test:{http_server.server_address[1]}/index.html"
    with FakeModem("quectel", **emulator_options("quectel")) as fm:
        done = run_atsock("get", "--apn", "internet", fm.port, "--user", "u", url, "--auth", "chap",
                          "--ip-version", "ipv4v6", env=dict(_no_env(), ATSOCK_APN_PASSWORD="p"))
        sent = fm.received_commands
    assert done.returncode == 0, done.stderr
    assert 'AT+QICSGP=1,3,"internet","u","p",2' in sent


# --- one trace format --------------------------------------------------------------------------------
TRACE_LINE = r"\d\d:\d\d:\d\d\.\d{3} DEBUG atsock\.at: (->|<-) [ -~]*"


class Kept(logging.Handler):
    def __init__(self):
        super().__init__()
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage())


def test_the_engine_trace_has_the_console_format_with_control_bytes_escaped(quectel_fake_modem):
    env = dict(os.environ, ATSOCK_PORT=quectel_fake_modem.port)
    done = run_atsock("info", "--trace", env=env)
    trace = [line for line in done.stderr.splitlines() if " atsock.at: " in line]
    assert done.returncode == 0 and trace and all(re.fullmatch(TRACE_LINE, line) for line in trace), trace
    assert any(line.endswith("-> AT+CSQ") for line in trace)

    kept, wire = Kept(), logging.getLogger("atsock.at")
    wire.addHandler(kept)
    wire.setLevel(logging.DEBUG)
    try:
        with atsock.open_modem(quectel_fake_modem.port, dialect="quectel", apn="internet"):
            quectel_fake_modem.inject(b"\r\nRING\x07\x1b[2J\r\n")  # a terminal's bell and clear-screen
            deadline = time.monotonic() + 30
            while not any("RING" in m for m in kept.messages) and time.monotonic() < deadline:
                time.sleep(0.02)
    finally:
        wire.removeHandler(kept)
        wire.setLevel(logging.NOTSET)
    assert [m for m in kept.messages if "RING" in m] == ["<- RING\\x07\\x1b[2J (urc)"]
