"""The demo and the emulator's command line, run as a user runs them."""
import subprocess
import sys
from pathlib import Path

import pytest

import atsock

ROOT = Path(__file__).resolve().parent.parent


def test_http_get_demo_prints_the_page_and_the_command_count():
    result = subprocess.run([sys.executable, str(ROOT / "examples" / "http_get.py")],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""  # a clean run warns about nothing (MicroPython's test runner compares output)
    assert "<h1>Hello through the modem</h1>" in result.stdout
    assert "HTTP/1.0 200 OK" in result.stdout
    assert "AT commands for the fetch" in result.stdout
    assert "AT+QIOPEN x1" in result.stdout


def test_requests_in_process_demo_fetches_through_the_emulated_modem():
    result = subprocess.run([sys.executable, str(ROOT / "examples" / "requests_in_process.py")],
                            capture_output=True, text=True, timeout=120)
    assert (result.returncode, result.stderr) == (0, "")
    status, commands = result.stdout.splitlines()
    assert status == "200 <h1>Hello from requests, through the modem</h1>"
    assert commands.endswith("AT commands for the request") and int(commands.split()[0]) >= 3  # DNS, open, send...


# A program with no logging set up: Python prints WARNING and above on stderr by itself.
CLOSE_WITH_EVERYTHING_OPEN = """
import socket, sys, time
sys.path.insert(0, "tests")
import atsock
from fakemodem import FakeModem
from conftest import emulator_options, modem_settings
dialect = sys.argv[1]
server = socket.create_server(("127.0.0.1", 0))
with FakeModem(dialect, **emulator_options(dialect)) as fm:
    modem = atsock.open_modem(fm.port, dialect=dialect, **modem_settings(dialect))
    client = modem.socket()
    client.settimeout(10)
    client.connect(server.getsockname())
    peer, _ = server.accept()
    peer.sendall(b"never read")
    listener = modem.socket()
    listener.listen(1)
    udp = modem.socket(atsock.AF_INET, atsock.SOCK_DGRAM)
    udp.sendto(b"x", server.getsockname())
    done = modem.socket()
    done.settimeout(10)
    done.connect(server.getsockname())
    done.close()
    peer.close()
    while client.recv(100):
        pass
    modem.close()
    modem.close()
print("closed")
"""


@pytest.mark.parametrize("dialect", ["quectel", "esp8285"])
def test_closing_a_modem_with_sockets_open_prints_nothing_on_stderr(dialect):
    result = subprocess.run([sys.executable, "-c", CLOSE_WITH_EVERYTHING_OPEN, dialect], cwd=ROOT,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "closed\n"
    assert result.stderr == ""


def test_fakemodem_command_line_serves_a_pty_until_interrupted(echo_server):
    process = subprocess.Popen([sys.executable, "-m", "fakemodem", "quectel", "--host", "echo.test=127.0.0.1"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        port = process.stdout.readline().strip()
        assert port.startswith("/dev/")
        with atsock.open_modem(port, apn="internet"):
            sock = atsock.socket()
            sock.settimeout(10)
            sock.connect(atsock.getaddrinfo("echo.test", echo_server.port)[0][-1])
            sock.write(b"through a separate process")
            assert sock.read(26) == b"through a separate process"
            sock.close()
    finally:
        process.terminate()
        assert process.wait(10) == 0


def test_maixpy_example_ports_download_and_send_a_file(tmp_path):
    saved = tmp_path / "download.bin"
    result = subprocess.run([sys.executable, str(ROOT / "examples" / "esp_http_download.py"), "--out", str(saved)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "the local server sent sha256" in result.stdout and ": match" in result.stdout
    assert saved.stat().st_size == 256 * 1024
    result = subprocess.run([sys.executable, str(ROOT / "examples" / "esp_send_file.py")],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "server received 204800 bytes" in result.stdout and ": match" in result.stdout


def test_fakemodem_command_line_serves_an_esp8285(echo_server):
    process = subprocess.Popen([sys.executable, "-m", "fakemodem", "esp8285", "--network", "lab=pw",
                                "--firmware", "2.2.0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, cwd=ROOT)
    try:
        port = process.stdout.readline().strip()
        with atsock.open_modem(port, dialect="esp8285", ssid="lab", key="pw") as modem:
            assert modem.firmware_major == 2
            sock = atsock.socket()
            sock.connect(("127.0.0.1", echo_server.port))
            sock.write(b"esp over the command line")
            assert sock.read(25) == b"esp over the command line"
            sock.close()
    finally:
        process.terminate()
        assert process.wait(10) == 0


def test_the_line_benchmark_runs_and_reports(tmp_path):
    """python -m bench.linerate, short: the switch, the transfers after it, the stalled reader."""
    result = subprocess.run([sys.executable, "-m", "bench.linerate", "--quick", "--dialect", "quectel"],
                            capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    rows = {line.split("|")[2].strip(): line for line in result.stdout.splitlines()
            if line.startswith("| quectel | rtscts") or line.startswith("| quectel | none")}
    assert set(rows) == {"rtscts", "none"}
    assert rows["rtscts"].endswith("| 0 bytes | yes |")  # with RTS/CTS every byte came, in order


def test_benchmark_runs_and_reports_ratios(tmp_path):
    """The benchmark itself (not its figures: those are never asserted) keeps working."""
    output = tmp_path / "bench.json"
    result = subprocess.run([sys.executable, "-m", "bench", "--quick", "--dialect", "quectel", "--rate", "0",
                             "--latency", "0", "--output", str(output), "--plot", str(tmp_path / "plot.png"),
                             # (data mode, many modems, asyncio, remote modems and the line have their own tests:
                             # the suite keeps its time)
                             "--no-data-mode", "--no-many", "--no-asyncio", "--no-remote", "--no-line"],
                            capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    import json
    report = json.loads(output.read_text())
    run = report["runs"][0]
    assert run["download"]["bytes"] == run["upload"]["bytes"] > 0
    assert run["all_busy"]["sockets"] == 12
    assert "import atsock (ms, best)" in result.stdout and "| quectel | unthrottled |" in result.stdout
    tls = report["tls"][0]  # host TLS against plain TCP on the same line, as ratios
    assert tls["tls"]["download"]["bytes"] == tls["plain"]["download"]["bytes"] > 0
    assert "host TLS goodput / plain TCP" in result.stdout


def test_capped_benchmark_runs_atsock_under_a_cpu_quota():
    """``--cpu-share``'s runs (figures never asserted): a worker moves itself into a quota'd group,
    its emulator and peer stay out of it, and the benchmark's groups are gone afterwards."""
    from bench import cgroup
    if cgroup.available():
        pytest.skip(cgroup.available())
    process = subprocess.Popen([sys.executable, "-m", "bench.capped", "--quick", "--dialect", "quectel", "--rate",
                                "921600", "--mode", "command", "--share", "50"], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, cwd=ROOT)
    out, err = process.communicate(timeout=300)
    assert process.returncode == 0, err
    rows = [line for line in out.splitlines() if line.startswith("| quectel | 921600 | command |")]
    assert len(rows) == 2 and "| uncapped |" in rows[0] and "| 50% (" in rows[1]
    assert not any((root / f"atsock-bench-{process.pid}").exists() for root in (cgroup.V1, cgroup.V2))


@pytest.mark.parametrize("direction", ["down", "up"])
def test_bare_client_moves_every_byte_with_one_command_in_flight(direction):
    """bench.bare's figures bound atsock's only if it does the same work (figures never asserted):
    every byte between the peer and the emulator's line, one AT command per fetch of at most 1500
    bytes (fewer where the module had less buffered) or per 1460-byte chunk."""
    from bench import bare
    size = 16 * bare.CHUNK
    figures = bare.transfer(direction, 921600, size)
    assert figures["bytes"] == size
    if direction == "down":
        assert figures["exchanges"] >= -(-size // 1500)
    else:
        assert figures["exchanges"] == 16
