"""The recorder: every line and payload, both directions, with timestamps, as JSON lines that a
crash cannot leave unreadable. Driven with plain pyserial, no atsock."""
import base64
import json
import os
import signal
import subprocess
import sys
import time

from fakemodem import FakeModem

from .at_client import AtPort

BINARY = bytes(range(256))


def read_trace(path):
    with open(path, encoding="utf-8") as trace:
        return [json.loads(line) for line in trace]


def payloads(records, direction):
    return [base64.b64decode(r["payload"]) for r in records if r.get("dir") == direction and "payload" in r]


def text_out(records):
    return "".join(r["text"] for r in records if r.get("dir") == "out" and "text" in r)


def test_a_quectel_exchange_is_recorded_line_by_line_with_payloads_apart(tmp_path, echo_server):
    path = tmp_path / "trace.jsonl"
    with FakeModem("quectel", record=str(path), rx_buffer=4096) as fm, AtPort(fm.port) as at:
        at.read_until(rb"RDY\r\n")
        at.command("ATE0")
        at.command("AT+QIACT=1")
        at.command(f'AT+QIOPEN=1,0,"TCP","127.0.0.1",{echo_server.port},0,0')
        at.read_until(rb"\+QIOPEN: 0,0\r\n")
        at.write(b"AT+QISEND=0,256\r")
        at.read_until(rb"> ")
        at.write(BINARY)
        at.read_until(rb"SEND OK\r\n")
        at.read_until(rb'"recv",0\r\n')
        header = at.command("AT+QIRD=0,256", final=rb"\+QIRD: \d+\r\n")
        count = int(header.split(b"+QIRD: ")[1].split(b"\r\n")[0])
        received = at.read_exact(count)
        at.read_until(rb"\r\n\r\nOK\r\n")
    records = read_trace(path)
    assert records[0]["event"] == "start" and records[0]["dialect"] == "quectel"
    assert records[-1]["event"] == "stop"
    assert [r["event"] for r in records if "event" in r] == ["start", "boot", "stop"]
    times = [r["t"] for r in records]
    assert times == sorted(times)
    lines = [r["line"] for r in records if "line" in r]
    assert lines == ["ATE0", "AT+QIACT=1", f'AT+QIOPEN=1,0,"TCP","127.0.0.1",{echo_server.port},0,0',
                     "AT+QISEND=0,256", "AT+QIRD=0,256"]
    assert payloads(records, "in") == [BINARY]
    assert payloads(records, "out")[-1] == received == BINARY[:count]
    out = text_out(records)
    assert "\r\nRDY\r\n" in out and "\r\n> " in out and "\r\nSEND OK\r\n" in out and "\r\n+QIOPEN: 0,0\r\n" in out
    assert f"\r\n+QIRD: {count}\r\n" in out


def test_esp_frames_busy_refusals_and_noise_are_recorded(tmp_path, echo_server):
    path = tmp_path / "trace.jsonl"
    with FakeModem("esp8285", record=str(path), networks={"lab": "pw"}, blackhole={"127.0.0.66"},
                   connect_timeout=0.5, boot_noise=True) as fm, AtPort(fm.port, b"\r\n") as at:
        at.read_until(rb"ready\r\n")
        at.command("ATE0")
        at.command('AT+CWJAP="lab","pw"')
        at.command("AT+CIPMUX=1")
        at.write(b'AT+CIPSTART=1,"TCP","127.0.0.66",80\r\n')  # never answers: the module stays busy
        time.sleep(0.1)  # the connect has begun
        at.write(b"AT+CIPSTATUS\r\n")
        at.read_until(rb"busy p\.\.\.\r\n")
        at.read_until(rb"1,CLOSED\r\n")
        at.command(f'AT+CIPSTART=0,"TCP","127.0.0.1",{echo_server.port}')
        at.write(b"AT+CIPSEND=0,5\r\n")
        at.read_until(rb">")
        at.write(b"\x00\xffA\r\n")
        at.read_until(rb"SEND OK\r\n")
        assert at.read_until(rb"\+IPD,0,5:").endswith(b"+IPD,0,5:")
        assert at.read_exact(5) == b"\x00\xffA\r\n"
    records = read_trace(path)
    assert {"dir": "in", "refused": "AT+CIPSTATUS"} in [{k: v for k, v in r.items() if k != "t"} for r in records]
    assert payloads(records, "in") == [b"\x00\xffA\r\n"]
    assert payloads(records, "out") == [b"\x00\xffA\r\n"]
    assert any("raw" in r for r in records)  # the ROM banner before "ready" is not text
    assert "\r\n+IPD,0,5:" in text_out(records)


def test_a_killed_emulator_leaves_a_readable_trace(tmp_path):
    path = tmp_path / "trace.jsonl"
    process = subprocess.Popen([sys.executable, "-m", "fakemodem", "quectel", "--record", str(path)],
                               stdout=subprocess.PIPE, text=True)
    try:
        port = process.stdout.readline().strip()
        with AtPort(port) as at:
            at.read_until(rb"RDY\r\n")
            assert at.command("AT+CPIN?").endswith(b"\r\n+CPIN: READY\r\n\r\nOK\r\n")
            at.write(b"AT+QIA")  # half a line: the module never saw it as a command
            os.kill(process.pid, signal.SIGKILL)
            process.wait(10)
    finally:
        if process.poll() is None:
            process.kill()
    records = read_trace(path)  # every line is whole JSON
    assert records[0]["event"] == "start"
    assert {"dir": "in", "line": "AT+CPIN?"} in [{k: v for k, v in r.items() if k != "t"} for r in records]
    assert "\r\n+CPIN: READY\r\n\r\nOK\r\n" in text_out(records)
    assert "stop" not in [r.get("event") for r in records]


def test_the_command_line_refuses_a_trace_path_it_cannot_write(tmp_path):
    result = subprocess.run([sys.executable, "-m", "fakemodem", "quectel", "--record", str(tmp_path / "no" / "x")],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 2 and "cannot write a trace" in result.stderr
