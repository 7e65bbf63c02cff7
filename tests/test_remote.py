"""Modems on other machines: the emulator's pty behind Debian's real ser2net on 127.0.0.1, atsock
opening ``rfc2217://`` (baud rate set through RFC 2217, read back from the pty's termios) and
``socket://`` (a raw TCP serial server); the server going away is a port that vanished."""
import errno
import os
import socket as std_socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

import atsock
from fakemodem import FakeModem
from fakemodem.ser2net import Ser2net

from .conftest import emulator_options, modem_settings
from .peers import ser2net_binary
from .test_recovery import StateLog, wait_for

ROOT = Path(__file__).resolve().parent.parent
BAUD = 460800  # not the 115200 ser2net's configuration opens the pty with: RFC 2217 must change it
GUARD = 0.05   # short data-mode guard times, the emulator's and the driver's alike (as test_data_mode)


@pytest.fixture
def emulator(dialect):
    with FakeModem(dialect, escape_guard=GUARD, **emulator_options(dialect)) as fm:
        yield fm


def serve(fm, **options) -> Ser2net:
    return Ser2net(fm.port, binary=ser2net_binary(), **options)


def open_remote(url, dialect, **extra):
    settings = dict(modem_settings(dialect), escape_guard=GUARD, **extra)
    if dialect == "esp8285":
        settings["escape_settle"] = GUARD
    return atsock.open_modem(url, dialect=dialect, baudrate=BAUD, **settings)


@pytest.fixture
def server(emulator):
    with serve(emulator) as s:
        yield s


@pytest.fixture
def remote_modem(server, dialect):
    with open_remote(server.url, dialect) as modem:
        yield modem


def echo_through(modem, port, payload: bytes) -> bytes:
    sock = modem.socket()
    sock.settimeout(10)
    sock.connect(("127.0.0.1", port))
    sock.sendall(payload)
    received = receive(sock, len(payload))
    sock.close()
    return received


def receive(sock, count: int) -> bytes:
    """``count`` bytes from an atsock or a host socket, whatever the pieces."""
    received = b""
    while len(received) < count:
        data = sock.recv(65536)
        assert data, "the stream ended early"
        received += data
    return received


def test_rfc2217_sets_the_baud_rate_on_the_far_port_and_carries_tcp(remote_modem, emulator, echo_server):
    assert emulator.host_baudrate() == BAUD  # the pty's termios, as ser2net set it for us
    payload = os.urandom(64 * 1024) + bytes([255, 255, 0, 255])  # Telnet's IAC byte, doubled on the wire
    assert echo_through(remote_modem, echo_server.port, payload) == payload


def test_rfc2217_carries_udp(remote_modem, udp_echo):
    sock = remote_modem.socket(atsock.AF_INET, atsock.SOCK_DGRAM)
    sock.settimeout(10)
    for datagram in (b"one", b"\xff\xfb\x2c", bytes(1000)):
        sock.sendto(datagram, ("127.0.0.1", udp_echo.port))
        assert sock.recvfrom(2000) == (datagram, ("127.0.0.1", udp_echo.port))
    sock.close()


def test_rfc2217_carries_a_listener(remote_modem):
    server = remote_modem.socket()
    server.bind(("", 0))
    server.listen(2)
    server.settimeout(10)
    client = std_socket.create_connection(("127.0.0.1", server.getsockname()[1]), timeout=10)
    conn, address = server.accept()
    assert address == client.getsockname()
    client.sendall(b"over the network\n")
    conn.settimeout(10)
    assert conn.readline() == b"over the network\n"
    conn.write(b"and back")
    assert client.recv(100) == b"and back"
    client.close()
    conn.close()
    server.close()


def test_rfc2217_carries_data_mode(remote_modem, dialect, echo_server):
    payload = os.urandom(32 * 1024)
    sock = remote_modem.socket()
    sock.settimeout(20)
    block = sock.data_mode()
    if dialect == "quectel":  # Quectel switches a connected socket; ESP-AT's passthrough connects itself
        sock.connect(("127.0.0.1", echo_server.port))
        block.__enter__()
    else:
        block.__enter__()
        sock.connect(("127.0.0.1", echo_server.port))
    try:
        sock.sendall(payload)
        assert sock.read(len(payload)) == payload
    finally:
        block.__exit__(None, None, None)
    if dialect == "quectel":  # command mode again on the same connection
        sock.write(b"after")
        got = b""
        while not got.endswith(b"after"):
            try:
                piece = sock.read(5)
            except OSError as exc:  # say what did come back
                raise AssertionError(f"read {got!r}, then nothing: {exc}") from exc
            assert piece, got
            got += piece
        # an escape the module missed (a silence broken on the way: README, data mode) sent its
        # three "+" to the echo server as data, and they come back before "after"
        assert set(got[:-5]) <= {ord("+")} and len(got[:-5]) % 3 == 0
    sock.close()
    assert remote_modem.state == "online"


def test_a_raw_tcp_serial_server(emulator, dialect, echo_server):
    with serve(emulator, telnet=False) as raw, open_remote(raw.url, dialect) as modem:
        assert raw.url.startswith("socket://")
        payload = os.urandom(32 * 1024) + b"\xff\xff"  # no Telnet here: 255 is just a byte
        assert echo_through(modem, echo_server.port, payload) == payload


def test_the_server_restarting_mid_transfer_is_an_unplugged_cable(emulator, server, dialect, echo_server):
    """The transfer fails with an OSError within its time-out; the same Modem reopens the same URL by
    itself once the server is back, the line at the same rate, and new sockets work."""
    with open_remote(server.url, dialect) as modem:
        log = StateLog(modem)
        sock = modem.socket()
        sock.settimeout(10)
        sock.connect(("127.0.0.1", echo_server.port))
        moved, outcome = [0], {}

        def transfer():
            block = os.urandom(4096)
            try:
                while True:
                    sock.sendall(block)
                    moved[0] += len(sock.read(len(block)))
            except OSError as exc:
                outcome["error"] = exc

        worker = threading.Thread(target=transfer)
        worker.start()
        assert wait_for(lambda: moved[0] >= 64 * 1024, 30)
        server.stop()
        worker.join(20)  # the socket's time-out is 10 s; the loss is noticed long before
        assert not worker.is_alive()
        assert isinstance(outcome["error"], OSError) and outcome["error"].args[0] == errno.EIO, outcome
        assert wait_for(lambda: modem.state == "recovering", 5)
        server.start()
        assert wait_for(lambda: modem.state == "online" and modem.recoveries == 1, 30)
        assert "recovering" in log.states()
        assert emulator.host_baudrate() == BAUD  # set again on the new connection
        assert echo_through(modem, echo_server.port, b"back again") == b"back again"
        with pytest.raises(OSError):  # the socket of the lost link stays failed
            sock.write(b"x")
        sock.close()


def test_nothing_listening_is_refused_at_once(dialect):
    with std_socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # bound, not listening: connections are refused
        with pytest.raises(OSError) as info:
            atsock.open_modem(f"rfc2217://127.0.0.1:{port}", dialect=dialect, **modem_settings(dialect))
    assert info.value.args[0] == errno.ECONNREFUSED


def test_rfc2217_to_a_raw_server_says_what_is_wrong(emulator, dialect):
    with serve(emulator, telnet=False) as raw:
        url = raw.url.replace("socket://", "rfc2217://") + "?timeout=1"
        with pytest.raises(OSError) as info:
            atsock.open_modem(url, dialect=dialect, **modem_settings(dialect))
    assert info.value.args[0] == errno.ETIMEDOUT
    assert "RFC 2217" in str(info.value) and "within 1 s" in str(info.value)  # the URL's own timeout


def test_the_benchmarks_delaying_relay_keeps_every_byte_in_order(echo_server):
    """bench.delay stands for the network in the remote benchmark rows: it may delay, never reorder or lose."""
    relay = subprocess.Popen([sys.executable, "-m", "bench.delay", str(echo_server.port), "0.002"],
                             stdout=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        port = int(relay.stdout.readline())
        payload = os.urandom(256 * 1024)
        with std_socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sender = threading.Thread(target=lambda: [sock.sendall(payload[i:i + 1000])
                                                      for i in range(0, len(payload), 1000)])
            sender.start()
            received = receive(sock, len(payload))
            sender.join()
        assert received == payload
    finally:
        relay.terminate()
        relay.wait(10)


def test_a_port_another_client_holds_is_refused_with_the_reason(emulator, dialect):
    with serve(emulator, options={"kickolduser": "false"}) as busy, open_remote(busy.url, dialect) as first:
        with pytest.raises(OSError) as info:
            open_remote(busy.url, dialect)
        assert first.state == "online"  # the first client keeps the port
    assert info.value.args[0] == errno.ECONNRESET and "another client" in str(info.value)
