"""``atsock get``: HTTP through the emulated modem to a real server on 127.0.0.1, with and without a terminal."""
import hashlib
import http.server
import os

import pytest

from fakemodem import FakeModem

from .cli_support import Terminal, run_atsock
from .conftest import modem_settings

def modem_flags(dialect):
    return [item for name, value in modem_settings(dialect).items() for item in (f"--{name}", value)]


def url(http_server, path):
    return f"http://www.test:{http_server.server_address[1]}/{path}"


def test_get_a_mebibyte_without_a_terminal(fake_modem, dialect, http_server, mib, tmp_path):
    out = tmp_path / "out.bin"
    done = run_atsock("get", fake_modem.port, "--dialect", dialect, *modem_flags(dialect),
                      url(http_server, "mib.bin"), "-o", out)
    assert done.returncode == 0, done.stderr
    assert hashlib.sha256(out.read_bytes()).digest() == hashlib.sha256(mib).digest()
    assert "ETA" not in done.stderr and "\r" not in done.stderr  # no progress bar when nobody watches
    assert not (tmp_path / "out.bin.part").exists()


def test_get_to_a_pipe_over_http_1_0(quectel_fake_modem, http_server, mib):
    env = dict(os.environ, ATSOCK_PORT=quectel_fake_modem.port)
    done = run_atsock("get", "--apn", "internet", "--http1.0", url(http_server, "mib.bin"), text=False, env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout == mib


def test_get_a_mebibyte_with_a_progress_bar_on_the_terminal(quectel_fake_modem, http_server, mib, tmp_path):
    out = tmp_path / "out.bin"
    term = Terminal("get", quectel_fake_modem.port, "--apn", "internet", url(http_server, "mib.bin"), "-o", out)
    try:
        assert term.wait() == 0, term.output
    finally:
        term.close()
    assert out.read_bytes() == mib
    assert b"100% [" in term.output and b"1.0 MiB / 1.0 MiB" in term.output and b"ETA 0:00" in term.output


def test_get_to_stdout_redirected_while_stderr_is_a_terminal(quectel_fake_modem, http_server, mib, tmp_path):
    out = tmp_path / "stdout.bin"
    term = Terminal("get", quectel_fake_modem.port, "--apn", "internet", url(http_server, "mib.bin"),
                    stdout_to_terminal=False, stdout_path=str(out))
    try:
        assert term.wait() == 0, term.output
    finally:
        term.close()
    assert out.read_bytes() == mib and b"/s  ETA" in term.output


def test_get_follows_redirects_and_reads_chunked_bodies(quectel_fake_modem, tcp_server):
    body = os.urandom(50_000)

    def handler(conn):
        request = b""
        while b"\r\n\r\n" not in request:
            request += conn.recv(4096)
        path = request.split(b" ")[1]
        if path == b"/start":
            conn.sendall(b"HTTP/1.1 302 Found\r\nLocation: /next?x=1\r\nContent-Length: 0\r\n\r\n")
        elif path == b"/next?x=1":
            conn.sendall(b"HTTP/1.1 301 Moved\r\nLocation: http://www.test:%d/data\r\n\r\n" % server.port)
        else:
            pieces = [body[i:i + 7000] for i in range(0, len(body), 7000)]
            chunks = b"".join(b"%x;ext=1\r\n%s\r\n" % (len(p), p) for p in pieces)
            head = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
            conn.sendall(head + chunks + b"0\r\nX-Trailer: 1\r\n\r\n")

    server = tcp_server(handler)
    done = run_atsock("get", quectel_fake_modem.port, "--apn", "internet",
                      f"http://www.test:{server.port}/start", text=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout == body


def test_get_of_a_missing_page_fails_and_leaves_no_file(quectel_fake_modem, http_server, tmp_path):
    out = tmp_path / "missing.html"
    done = run_atsock("get", quectel_fake_modem.port, "--apn", "internet", url(http_server, "nothere"),
                      "-o", out)
    assert done.returncode == 22 and "HTTP 404" in done.stderr  # curl's number for an HTTP error
    assert not out.exists() and not (tmp_path / "missing.html.part").exists()


# --- https: host TLS over the modem's TCP socket -------------------------------------------------------
def https_url(server, path, host="www.test"):
    return f"https://{host}:{server.server_address[1]}/{path}"


def test_get_over_https_verifies_the_server_against_the_given_ca(fake_modem, dialect, https_server, ca_file,
                                                                   tmp_path):
    data = (https_server.root / "blob.bin").read_bytes()
    out = tmp_path / "out.bin"
    done = run_atsock("get", fake_modem.port, "--dialect", dialect, *modem_flags(dialect),
                      "--cacert", ca_file, https_url(https_server, "blob.bin"), "-o", out)
    assert done.returncode == 0, done.stderr
    assert hashlib.sha256(out.read_bytes()).digest() == hashlib.sha256(data).digest()
    assert f"{https_server.server_address[1]}" in " ".join(fake_modem.received_commands)  # through the module


def test_get_over_https_refuses_a_server_the_system_does_not_trust(quectel_fake_modem, https_server, tmp_path):
    out = tmp_path / "out.bin"
    done = run_atsock("get", quectel_fake_modem.port, "--apn", "internet",
                      https_url(https_server, "blob.bin"), "-o", out)
    assert done.returncode == 60 and "CERTIFICATE_VERIFY_FAILED" in done.stderr
    assert not out.exists() and not (tmp_path / "out.bin.part").exists()


def test_get_over_https_checks_the_name(quectel_fake_modem, https_server, ca_file):
    done = run_atsock("get", quectel_fake_modem.port, "--apn", "internet", "--cacert", ca_file,
                      https_url(https_server, "index.html", host="echo.test"), text=False)
    assert done.returncode == 60 and b"echo.test" in done.stderr and done.stdout == b""


def test_get_over_https_insecure_skips_verification(quectel_fake_modem, https_server):
    done = run_atsock("get", quectel_fake_modem.port, "--apn", "internet", "--insecure",
                      https_url(https_server, "index.html", host="echo.test"), text=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout == (https_server.root / "index.html").read_bytes()


def test_get_with_a_missing_ca_file_fails_before_the_modem_is_opened(quectel_fake_modem, tmp_path):
    done = run_atsock("get", quectel_fake_modem.port, "--cacert", tmp_path / "none.pem", "https://www.test/")
    assert done.returncode == 1 and "No such file" in done.stderr
    assert quectel_fake_modem.received_commands == []
    both = run_atsock("get", quectel_fake_modem.port, "--cacert", tmp_path / "none.pem", "--insecure",
                      "https://www.test/")
    assert both.returncode == 2 and "not allowed with" in both.stderr


def test_get_needs_a_port():
    env = {k: v for k, v in os.environ.items() if k != "ATSOCK_PORT"}
    done = run_atsock("get", "http://www.test/", env=env)
    assert done.returncode == 69 and "which serial port?" in done.stderr and "ATSOCK_PORT" in done.stderr


# --- exit codes as curl's, and no binary on a terminal ----------------------------------------------
def test_each_kind_of_failure_has_its_own_exit_status(quectel_fake_modem, http_server):
    import socket

    port = quectel_fake_modem.port
    with socket.socket() as closed:                      # a port on this machine that nobody listens on
        closed.bind(("127.0.0.1", 0))
        refused_url = f"http://127.0.0.1:{closed.getsockname()[1]}/"
        cases = {
            6: ("http://no-such-host.test/",),               # the modem's DNS does not know the name
            7: (refused_url,),                               # refused
            22: (url(http_server, "nothere"),),              # HTTP 404
            28: ("--timeout", "1", "http://127.0.0.66/"),    # an address the emulator blackholes
            3: ("ftp://www.test/",),                         # not an http(s) URL
        }
        for code, extra in cases.items():
            done = run_atsock("get", port, "--apn", "internet", *extra)
            assert done.returncode == code, (code, done.stderr)
            assert done.stdout == "" and done.stderr.startswith("atsock get: ") and "[Errno" not in done.stderr
    with FakeModem("quectel") as silent:
        silent.hang(60)
        done = run_atsock("get", silent.port, "--apn", "internet", url(http_server, "index.html"))
    assert done.returncode == 69 and "does not answer AT" in done.stderr


def test_get_refuses_to_write_binary_to_a_terminal(quectel_fake_modem, http_server):
    (http_server.root / "small.bin").write_bytes(bytes(range(256)) * 4)
    for extra, status in (([], 23), (["-o", "-"], 0)):
        term = Terminal("get", quectel_fake_modem.port, "--apn", "internet", url(http_server, "small.bin"), *extra)
        try:
            assert term.wait() == status, term.output
        finally:
            term.close()
        assert (b"the body is binary and stdout is a terminal: give -o FILE" in term.output) == (status == 23)
    term = Terminal("get", quectel_fake_modem.port, "--apn", "internet", url(http_server, "index.html"))
    try:
        assert term.wait() == 0, term.output
    finally:
        term.close()
    assert b"hello from the test server" in term.output     # text goes to the terminal as before
