"""``atsock info`` and ``atsock ports`` against emulated modules, and what open_modem says about a silent port."""
import json
import os
import re
import signal
import subprocess

import pytest

import atsock
from fakemodem import FakeModem

from .cli_support import atsock_command, run_atsock


def info(port, *extra):
    done = run_atsock("info", "--json", port, *extra)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


# --- info: Quectel -----------------------------------------------------------------------------------
def test_info_of_a_registered_quectel_module_with_its_data_context_up(quectel_fake_modem):
    port = quectel_fake_modem.port
    assert run_atsock("at", port, 'AT+QICSGP=1,1,"internet","",""', "AT+QIACT=1").returncode == 0
    report = info(port)
    assert report["dialect"] == "quectel" and report["errors"] == {}
    assert (report["manufacturer"], report["model"], report["firmware"], report["firmware_full"]) == \
        ("Quectel", "BG96", "BG96MAR02A07M1G", "BG96MAR02A07M1G_01.016.01.016")  # the emulator's default model
    assert (report["imei"], report["iccid"], report["imsi"]) == \
        ("866349041749536", "8939560000000806706F", "901405100000001")
    signal = report["signal"]
    assert (signal["dbm"], signal["bars"], signal["csq"]["rssi"]) == (-75, 3, 19)
    assert (signal["qcsq"]["mode"], signal["qcsq"]["rsrp"], signal["qcsq"]["sinr_db"]) == ("CAT-M1", -87, 2.2)
    assert (report["operator"]["operator"], report["operator"]["technology"]) == ("Example Net", "LTE Cat-M1")
    assert report["network"] == {"technology": "CAT-M1", "mccmnc": "24701", "band": "LTE BAND 20", "channel": 6300,
                                 "text": None}
    assert report["registration"]["registered"] and report["registration"]["+CEREG"]["state"] == "registered (home)"
    assert report["data"] == {"context_id": 1, "settings": {"type": "IPv4", "apn": "internet", "user": ""},
                              "active": True, "addresses": ["10.64.12.7"]}


def test_info_without_network_or_sim_still_identifies_the_module():
    with FakeModem("quectel", registration_delay=3600, sim="absent") as fm:
        report = info(fm.port, "--dialect", "quectel")
    assert (report["model"], report["imei"]) == ("BG96", "866349041749536")
    assert report["iccid"] is None and report["imsi"] is None
    assert report["errors"] == {"AT+CPIN?": "ERROR", "AT+QCCID": "ERROR", "AT+CIMI": "ERROR"}
    assert report["sim"] == {"code": None, "state": None}
    assert report["signal"]["dbm"] is None and report["signal"]["qcsq"]["mode"] == "NOSERVICE"
    assert report["operator"]["operator"] is None and report["network"]["text"] == "No Service"
    assert not report["registration"]["registered"]
    assert report["registration"]["+CEREG"]["state"] == "not registered, not searching"  # (no SIM: no search)
    assert report["signal"]["words"] == "no signal, CSQ 99"


def test_info_shows_the_emulators_configured_identity_as_text():
    identity = {"model": "BG96", "revision": "BG96MAR02A07M1G", "imei": "351234567890123", "csq": (7, 99),
                "sysmode": "GSM", "signal": (-99,), "operator": "Other Net"}
    with FakeModem("quectel", identity=identity) as fm:
        done = run_atsock("info", fm.port)
    assert done.returncode == 0, done.stderr
    rows = dict(line.split(None, 1) for line in done.stdout.splitlines())
    assert rows["model"] == "Quectel BG96" and rows["IMEI"] == "351234567890123"
    assert rows["signal"] == "-99 dBm (CSQ 7), 1/4 bars; GSM"
    assert rows["operator"].startswith("Other Net (24701")


def test_info_shows_the_sim_state():
    with FakeModem("quectel", sim="pin") as fm:
        report = info(fm.port)
        text = run_atsock("info", fm.port)
    assert report["sim"] == {"code": "SIM PIN", "state": "locked: it waits for its PIN"}
    assert "\nSIM           locked: it waits for its PIN\n" in text.stdout
    with FakeModem("quectel") as fm:
        assert info(fm.port)["sim"] == {"code": "READY", "state": "ready"}


def test_info_watch_shows_signal_and_registration_at_each_reading(quectel_fake_modem):
    done = run_atsock("info", quectel_fake_modem.port, "--watch", "--count", "3", "--interval", "0.05")
    assert done.returncode == 0, done.stderr
    readings = done.stdout.splitlines()[-3:]
    line = r"\d\d:\d\d:\d\d  signal -75 dBm \(CSQ 19\), 3/4 bars; CAT-M1 RSRP -87 dBm.*; registration .*registered.*"
    assert all(re.fullmatch(line, reading) for reading in readings), readings


def test_info_watch_of_an_esp_and_its_end_by_ctrl_c():
    with FakeModem("esp8285", networks={"lab-net": "secret"}) as fm:
        assert run_atsock("at", fm.port, 'AT+CWJAP_CUR="lab-net","secret"').returncode == 0
        process = subprocess.Popen(atsock_command("info", fm.port, "--watch", "--interval", "0.05"),
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            readings = []
            while len(readings) < 2:
                line = process.stdout.readline()
                assert line, process.stderr.read()
                if re.match(r"\d\d:\d\d:\d\d  ", line):
                    readings.append(line)
            process.send_signal(signal.SIGINT)
            assert process.wait(timeout=30) == 0
        finally:
            if process.poll() is None:
                process.kill()
            process.communicate()
    assert all('Wi-Fi "lab-net" RSSI -58 dBm, 3/4 bars' in line for line in readings), readings


# --- info: ESP -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("firmware, join", [("1.7.4", "AT+CWJAP_CUR"), ("2.2.0", "AT+CWJAP")])
def test_info_of_an_esp_module(firmware, join):
    with FakeModem("esp8285", firmware=firmware, networks={"lab-net": "secret"}) as fm:
        before = info(fm.port)
        assert run_atsock("at", fm.port, f'{join}="lab-net","secret"').returncode == 0
        after = info(fm.port, "--dialect", "esp8285")
    assert before["wifi"] == {"joined": False} and before["ip"] is None
    assert before["firmware"]["generation"] == int(firmware[0]) and before["mac"] == "a4:cf:12:00:11:22"
    assert after["wifi"] == {"joined": True, "ssid": "lab-net", "bssid": "9c:53:22:10:20:30", "channel": 6,
                             "rssi": -58, "bars": 3}
    assert (after["ip"], after["gateway"], after["netmask"]) == ("192.168.4.23", "192.168.4.1", "255.255.255.0")
    assert after["errors"] == {}


# --- silent ports --------------------------------------------------------------------------------------
def test_info_on_a_silent_port_names_the_likely_causes(quectel_fake_modem):
    quectel_fake_modem.hang(60)
    done = run_atsock("info", quectel_fake_modem.port)
    assert done.returncode == 1
    assert "does not answer AT" in done.stderr and "atsock ports" in done.stderr


def test_open_modem_on_a_silent_port_names_the_likely_causes(quectel_fake_modem):
    quectel_fake_modem.hang(60)
    with pytest.raises(OSError) as failure:
        atsock.open_modem(quectel_fake_modem.port, apn="internet", sync_timeout=1.0)
    text = str(failure.value)
    assert "does not answer" in text and "wrong interface" in text and "baud rate" in text
    assert "ModemManager" in text and "atsock ports" in text


# --- ports ---------------------------------------------------------------------------------------------
def test_ports_finds_emulated_ports_probes_them_and_shows_holders(tmp_path):
    with FakeModem("quectel", link_path=str(tmp_path / "modem-q")) as quectel, \
            FakeModem("esp8285", firmware="2.2.0", link_path=str(tmp_path / "modem-e")) as esp, \
            FakeModem("quectel", link_path=str(tmp_path / "modem-silent")) as silent:
        silent.hang(60)
        done = run_atsock("ports", "--json", str(tmp_path / "modem-*"))
        assert done.returncode == 0, done.stderr
        found = {os.path.basename(p["device"]): p for p in json.loads(done.stdout)["ports"]}
        assert sorted(found) == ["modem-e", "modem-q", "modem-silent"]
        assert found["modem-q"]["probe"] == {"answers_at": True, "module": "Quectel BG96"}
        assert found["modem-e"]["probe"]["module"].startswith("ESP-AT, AT version:2.2.0.0")
        assert found["modem-silent"]["probe"] == {"answers_at": False, "module": None}
        assert {p["role"] for p in found.values()} == {"serial"} and not any(p["holders"] for p in found.values())

        with atsock.open_modem(quectel.port, apn="internet"):
            done = run_atsock("ports", str(tmp_path / "modem-q"))
        assert done.returncode == 0, done.stderr
        assert "BUSY, held by python" in done.stdout and f"(pid {os.getpid()})" in done.stdout
        assert "answers AT" not in done.stdout  # a held port is not probed
        assert esp.received_commands.count("AT+GMR") == 1


def test_ports_with_a_pattern_that_matches_nothing(tmp_path):
    done = run_atsock("ports", "--no-probe", str(tmp_path / "nothing-*"))
    assert done.returncode == 0 and "no serial ports found matching" in done.stdout
