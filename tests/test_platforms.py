"""Platform flavours end to end: the programs in examples/platforms/ run unmodified through
``atsock.micropython.load()`` against the emulator and real peers on 127.0.0.1; plus the usocket
details those programs lean on (recv flags, QuecPython's UDP default, IP literals without a modem,
the ESP's not-yet-joined message, the dialects' settings errors)."""
import errno
import hashlib
import os
import socket as host_socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

import atsock
import atsock.quecpython
from atsock import micropython
from atsock.platforms import utime
from fakemodem import FakeModem

from .conftest import HOSTS, WIFI, TcpServer, UdpEcho

PLATFORMS = Path(__file__).resolve().parent.parent / "examples" / "platforms"
EXAMPLE_HOSTS = dict(HOSTS, **{"www.example.test": "127.0.0.1", "files.example.test": "127.0.0.1"})


def free_port():
    with host_socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def talk_to(port, message):
    with host_socket.create_connection(("127.0.0.1", port), timeout=10) as client:
        client.sendall(message)
        reply = b""
        while True:
            data = client.recv(1024)
            if not data:
                return reply
            reply += data


def serve_in_thread(serve, listener):
    result = {}
    thread = threading.Thread(target=lambda: result.setdefault("peer", serve(listener)), daemon=True)
    thread.start()
    return thread, result


# --- QuecPython ------------------------------------------------------------------------------------
@pytest.fixture
def quectel_example_modem():
    with FakeModem("quectel", hosts=EXAMPLE_HOSTS) as fm, atsock.open_modem(fm.port, apn="internet") as modem:
        yield modem


def test_quecpython_program_waits_fetches_serves_and_speaks_udp(quectel_example_modem, http_server):
    program = micropython.load(PLATFORMS / "quecpython_socket.py", "quecpython_socket", flavour="quecpython")
    assert program.wait_network(timeout=5) is True

    response = program.http_get("www.example.test", http_server.server_address[1])
    assert response.startswith(b"HTTP/1.0 200")
    assert response.endswith(b"hello from the test server</body></html>\n")

    port = free_port()
    listener = program.tcp_server(port)
    thread, result = serve_in_thread(program.serve_once, listener)
    assert talk_to(port, b"hello module") == b"QuecPython got: hello module"
    thread.join(10)
    assert result["peer"][0] == "127.0.0.1" and isinstance(result["peer"][1], int)

    udp = UdpEcho(prefix=b"echo:")
    try:
        assert program.udp_exchange("www.example.test", udp.port, b"ping") == b"echo:ping"
    finally:
        udp.close()


def test_checknet_times_out_without_a_joined_network():
    program = micropython.load(PLATFORMS / "quecpython_socket.py", "quecpython_socket", flavour="quecpython")
    assert program.checknet.wait_network_connected(0.1) == (1, 0)  # no modem open at all
    with FakeModem("esp8285", networks={WIFI["ssid"]: WIFI["key"]}) as fm, \
            atsock.open_modem(fm.port, dialect="esp8285"):
        assert program.checknet.wait_network_connected(0.1) == (2, 0)
        assert program.wait_network(timeout=0.1) is False


# --- MaixPy ----------------------------------------------------------------------------------------
@pytest.fixture
def esp_example_emulator():
    with FakeModem("esp8285", hosts=EXAMPLE_HOSTS, networks={WIFI["ssid"]: WIFI["key"]}) as fm:
        yield fm


def digest_sink():
    seen = {}

    def handler(conn):
        digest, size = hashlib.sha256(), 0
        while True:
            data = conn.recv(65536)
            if not data:
                break
            digest.update(data)
            size += len(data)
        seen.update(size=size, sha256=digest.hexdigest())
    return seen, TcpServer(handler)


def test_maixpy_program_joins_downloads_and_uploads(esp_example_emulator, http_server, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    program = micropython.load(PLATFORMS / "maixpy_esp8285.py", flavour="maixpy", port=esp_example_emulator.port)
    nic = program.wifi_connect(WIFI["ssid"], WIFI["key"])
    try:
        assert nic.isconnected()
        header, size = program.download("files.example.test", http_server.server_address[1], b"/blob.bin", "blob.bin")
        assert header.startswith(b"HTTP/1.0 200")
        assert (tmp_path / "blob.bin").read_bytes() == (http_server.root / "blob.bin").read_bytes()

        payload = os.urandom(50_000)
        (tmp_path / "upload.bin").write_bytes(payload)
        seen, sink = digest_sink()
        try:
            assert program.upload("files.example.test", sink.port, "upload.bin") == len(payload)
            for _ in range(200):
                if seen:
                    break
                threading.Event().wait(0.05)
            assert seen == dict(size=len(payload), sha256=hashlib.sha256(payload).hexdigest())
        finally:
            sink.close()
    finally:
        nic.close()


def test_maixpy_esp8285_uses_the_open_modem_when_load_has_no_port(esp_example_emulator):
    with atsock.open_modem(esp_example_emulator.port, dialect="esp8285") as modem:
        program = micropython.load(PLATFORMS / "maixpy_esp8285.py", flavour="maixpy")
        nic = program.wifi_connect(WIFI["ssid"], WIFI["key"])
        assert nic.modem is modem and modem.state == "online"
        nic.close()
        assert modem.state == "online"  # not ours to close


def test_maixpy_network_still_takes_a_port(esp_example_emulator):
    nic = micropython.platforms.modules("maixpy")["network"].ESP8285(esp_example_emulator.port)
    try:
        nic.connect(WIFI["ssid"], WIFI["key"])
        assert nic.isconnected()
    finally:
        nic.close()
    assert nic.modem.state == "closed"


# --- OpenMV (plain MicroPython flavour), both dialects ---------------------------------------------
def test_openmv_program_client_server_udp(modem, echo_server):
    program = micropython.load(PLATFORMS / "openmv_socket.py")
    assert program.tcp_client("echo.test", echo_server.port, b"frame 1") == b"frame 1"

    port = free_port()
    listener = program.tcp_server(port)
    thread, result = serve_in_thread(program.serve_once, listener)
    assert talk_to(port, b"snapshot?") == b"OpenMV echo: snapshot?"
    thread.join(10)
    assert result["peer"][0] == "127.0.0.1"

    udp = UdpEcho(prefix=b"udp:")
    try:
        data, sender = program.udp_exchange("127.0.0.1", udp.port, b"blob")
        assert data == b"udp:blob" and sender == ("127.0.0.1", udp.port)
    finally:
        udp.close()


# --- load(): MicroPython's reading of source, and the flavour's module set --------------------------
def test_load_counts_a_tab_as_advancing_to_the_next_multiple_of_eight(tmp_path):
    path = tmp_path / "mixed.py"
    path.write_bytes(b"def f(x):\n        if x:\n\t    return 'tab+4'\n\treturn 'tab'\n")
    assert micropython.load(path).f(1) == "tab+4"
    assert micropython.load(path).f(0) == "tab"


def test_load_keeps_tabs_inside_code(tmp_path):
    path = tmp_path / "strings.py"
    path.write_bytes(b"VALUE = 'a\tb'\n")
    assert micropython.load(path).VALUE == "a\tb"


@pytest.mark.parametrize("flavour, name", [("maixpy", "checkNet"), ("quecpython", "network"),
                                           ("micropython", "machine"), ("maixpy", "sensor")])
def test_unknown_platform_module_names_the_flavour(tmp_path, flavour, name):
    path = tmp_path / "needs.py"
    path.write_text(f"import {name}\n")
    with pytest.raises(ImportError, match=f"'{name}'.*{flavour} flavour"):
        micropython.load(path, flavour=flavour)


def test_each_flavour_gives_its_own_usocket(tmp_path):
    path = tmp_path / "which.py"
    path.write_text("import usocket, socket, utime, time, ustruct, ubinascii, uerrno, uselect\n")
    assert micropython.load(path, flavour="quecpython").usocket is atsock.quecpython
    plain = micropython.load(path, flavour="micropython")
    assert plain.usocket is atsock and plain.socket is atsock and plain.time is utime
    assert plain.ustruct.pack(">H", 258) == b"\x01\x02" and plain.uerrno.EAGAIN == errno.EAGAIN


def test_unknown_flavour_is_refused(tmp_path):
    with pytest.raises(ValueError, match="flavour"):
        micropython.load(tmp_path / "x.py", flavour="circuitpython")


def test_ticks_wrap_like_micropython():
    near_end = utime.TICKS_PERIOD - 10
    later = utime.ticks_add(near_end, 25)
    assert later == 15
    assert utime.ticks_diff(later, near_end) == 25
    assert utime.ticks_diff(near_end, later) == -25
    assert utime.ticks_add(5, -10) == utime.TICKS_PERIOD - 5
    assert utime.ticks_diff(utime.ticks_ms(), utime.ticks_ms()) <= 0


# --- usocket details (issue 14 items 1, 3, 5, 6) -----------------------------------------------------
def test_peek_leaves_tcp_data_for_the_next_read(modem, echo_server):
    with atsock.socket() as s:
        s.connect(("127.0.0.1", echo_server.port))
        s.sendall(b"hello")
        peeked = b""
        while len(peeked) < 5:
            peeked = s.recv(5, atsock.MSG_PEEK)
        assert peeked == b"hello"
        buffer = bytearray(5)
        assert s.recv_into(buffer, 5, atsock.MSG_PEEK) == 5 and buffer == b"hello"
        assert s.recv(5) == b"hello"


def test_dontwait_raises_eagain_whatever_the_timeout(modem, echo_server):
    with atsock.socket() as s:
        s.connect(("127.0.0.1", echo_server.port))
        s.settimeout(None)
        with pytest.raises(OSError) as raised:
            s.recv(10, atsock.MSG_DONTWAIT)
        assert raised.value.errno == errno.EAGAIN


def test_peek_leaves_a_datagram_for_the_next_read(modem, udp_echo):
    with atsock.socket(atsock.AF_INET, atsock.SOCK_DGRAM) as s:
        s.settimeout(10)
        s.sendto(b"datagram", ("127.0.0.1", udp_echo.port))
        data, sender = s.recvfrom(64, atsock.MSG_PEEK)
        assert (data, sender) == (b"datagram", ("127.0.0.1", udp_echo.port))
        assert s.recvfrom(64) == (b"datagram", ("127.0.0.1", udp_echo.port))
        with pytest.raises(OSError) as raised:
            s.recvfrom(64, atsock.MSG_DONTWAIT)
        assert raised.value.errno == errno.EAGAIN


def test_quecpython_udp_socket_takes_the_protocol_of_its_type(modem, udp_echo):
    with atsock.quecpython.socket(atsock.AF_INET, atsock.SOCK_DGRAM) as s:
        s.settimeout(10)
        s.sendto(b"q", ("127.0.0.1", udp_echo.port))
        assert s.recvfrom(16)[0] == b"q"


def test_ip_literals_resolve_without_a_modem():
    with pytest.raises(OSError):
        atsock.current_modem()
    assert atsock.getaddrinfo("127.0.0.1", 80) == [(atsock.AF_INET, atsock.SOCK_STREAM, atsock.IPPROTO_TCP, "",
                                                    ("127.0.0.1", 80))]
    assert atsock.getaddrinfo("0.0.0.0", 80)[0][-1] == ("0.0.0.0", 80)
    assert atsock.getaddrinfo(None, 80, 0, 0, 0, atsock.AI_PASSIVE)[0][-1] == ("0.0.0.0", 80)


def test_esp_socket_before_a_join_says_to_join(esp_example_emulator):
    with atsock.open_modem(esp_example_emulator.port, dialect="esp8285"), atsock.socket() as s:
        with pytest.raises(OSError, match=r"join a Wi-Fi network first.*connect\(ssid, key\).*ssid=") as raised:
            s.connect(("127.0.0.1", 9))
        assert raised.value.errno == errno.ENETDOWN


@pytest.mark.parametrize("dialect, wrong, listed", [("esp8266", "apn", "ssid, key"), ("quectel", "ssid", "apn")])
def test_a_setting_the_dialect_lacks_is_named_with_those_it_takes(dialect, wrong, listed):
    with pytest.raises(TypeError, match=f"takes no {wrong}; its settings are .*{listed}"):
        atsock.open_modem("/dev/null-not-opened", dialect=dialect, **{wrong: "x"})


# --- running a program: __main__, MaixPy's boot globals, python -m atsock.micropython ----------------
PROGRAM = """
import socket
ran_as = __name__
def fetch(port):
    s = socket.socket()
    s.connect(socket.getaddrinfo("www.test", port)[0][-1])
    s.write(b"GET /index.html HTTP/1.0\\r\\n\\r\\n")
    reply = s.read()
    s.close()
    return reply
if __name__ == "__main__":
    import sys
    print(fetch(int(sys.argv[1]))[:15].decode())
"""


def test_load_runs_a_program_as_main_and_imports_a_module_by_name(tmp_path):
    (tmp_path / "prog.py").write_text("ran_as = __name__\nif __name__ == '__main__':\n    main_block = True\n")
    program = micropython.load(tmp_path / "prog.py")
    assert program.ran_as == "__main__" and program.main_block is True
    module = micropython.load(tmp_path / "prog.py", name="prog")
    assert module.ran_as == "prog" and not hasattr(module, "main_block")
    assert "__main__" not in {name for name, m in sys.modules.items() if m is program}  # the process's own main stays


def test_maixpy_programs_find_what_the_boot_code_left(tmp_path):
    (tmp_path / "main.py").write_text("fm.register(board_info.WIFI_RX, fm.fpioa.UART2_TX)\n"
                                      "uart = machine.UART(machine.UART.UART2, 115200)\n")
    program = micropython.load(tmp_path / "main.py", flavour="maixpy")
    assert program.uart.baudrate == 115200
    with pytest.raises(NameError):
        micropython.load(tmp_path / "main.py", flavour="micropython")  # other ports' boot code leaves none


def test_python_m_runs_a_program_from_a_shell(http_server, tmp_path):
    (tmp_path / "prog.py").write_text(PROGRAM)
    with FakeModem("quectel", hosts=HOSTS) as fm:
        done = subprocess.run([sys.executable, "-m", "atsock.micropython", str(tmp_path / "prog.py"), "--port",
                               fm.port, "--dialect", "quectel", "--apn", "internet", "--",
                               str(http_server.server_address[1])], capture_output=True, text=True, timeout=60)
        assert any(line.startswith("AT+QIOPEN") for line in fm.received_commands)
    assert (done.returncode, done.stdout, done.stderr) == (0, "HTTP/1.0 200 OK\n", "")
