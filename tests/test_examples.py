"""The demo and the emulator's command line, run as a user runs them."""
import subprocess
import sys
from pathlib import Path

import atsock

ROOT = Path(__file__).resolve().parent.parent


def test_http_get_demo_prints_the_page_and_the_command_count():
    result = subprocess.run([sys.executable, str(ROOT / "examples" / "http_get.py")],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "<h1>Hello through the modem</h1>" in result.stdout
    assert "HTTP/1.0 200 OK" in result.stdout
    assert "AT commands for the fetch" in result.stdout
    assert "AT+QIOPEN x1" in result.stdout


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
