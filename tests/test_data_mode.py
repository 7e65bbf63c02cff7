"""Data mode end to end: usocket call -> atsock -> pty -> emulator in transparent / passthrough
mode -> real host socket -> peer on 127.0.0.1.

The emulator runs unpaced with short guard times (its ``escape_guard`` switch, matched by the
modem's ``escape_guard`` setting) so that a mebibyte each way stays quick; its module boots at a
fast rate (``boot_baudrate``) that atsock opens the port at, so atsock's line clock counts a fast
line for the same reason.
"""
import errno
import hashlib
import os
import threading
import time

import pytest

import atsock
from fakemodem import FakeModem

from .conftest import emulator_options, modem_settings, open_ids

GUARD = 0.05
MIB = 2 ** 20
FAST_LINE = 8_000_000  # baud the line clock counts with (the emulator is not paced; an ESP divides 80 MHz to it exactly)


def wait_until(check, seconds=10.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.01)
    return check()


def data_mode_modem(dialect, fm, guard=GUARD):
    settings = dict(modem_settings(dialect), escape_guard=guard)
    if dialect == "esp8285":
        settings["escape_settle"] = guard
    return atsock.open_modem(fm.port, dialect=dialect, baudrate=FAST_LINE, **settings)


def emulator(dialect, guard=GUARD, **options):
    return FakeModem(dialect, escape_guard=guard, boot_baudrate=FAST_LINE, **emulator_options(dialect), **options)


def read_exactly(sock, count):
    data = sock.read(count)
    assert len(data) == count
    return data


def received_digest(conn):
    """Reads 8 bytes of length and that many bytes: their SHA-256 (None if they stop short)."""
    size = int.from_bytes(read_all(conn, 8), "big")
    hashed = hashlib.sha256()
    got = 0
    while got < size:
        data = conn.recv(min(65536, size - got))
        if not data:
            return None
        hashed.update(data)
        got += len(data)
    return hashed.digest()


def digest_peer(conn):
    """Answers the SHA-256 of what it received (``received_digest``); then sends the digest of
    1 MiB of its own and the MiB itself."""
    digest = received_digest(conn)
    if digest is None:
        return
    conn.sendall(digest)
    payload = os.urandom(MIB)
    conn.sendall(hashlib.sha256(payload).digest() + payload)
    read_all(conn, 3)  # "bye": the client is done reading
    conn.sendall(b"bye!")
    read_all(conn, 1)  # the peer closes after the client: what the modem does then is the client's


def read_all(conn, count):
    data = b""
    while len(data) < count:
        piece = conn.recv(count - len(data))
        if not piece:
            break
        data += piece
    return data


@pytest.mark.parametrize("dialect", ["quectel", "esp8285"])
def test_a_mebibyte_each_way_in_data_mode(dialect, tcp_server):
    peer = tcp_server(digest_peer)
    upload = os.urandom(MIB)
    with emulator(dialect) as fm, data_mode_modem(dialect, fm) as modem:
        sock = modem.socket()
        sock.settimeout(60)
        with sock.data_mode():
            sock.connect(("127.0.0.1", peer.port))
            sock.sendall(len(upload).to_bytes(8, "big"))
            sock.sendall(upload)
            assert read_exactly(sock, 32) == hashlib.sha256(upload).digest()
            expected = read_exactly(sock, 32)
            assert hashlib.sha256(read_exactly(sock, MIB)).digest() == expected
            sock.sendall(b"bye")
            assert read_exactly(sock, 4) == b"bye!"
        sock.close()
        assert wait_until(lambda: modem.socket_ids() == [] and open_ids(fm) == [])
        # nothing but the commands around the mode: the mebibytes went raw
        commands = fm.received_commands
        assert not [line for line in commands if line.startswith(("AT+QISEND", "AT+QIRD", "AT+CIPSEND="))]
        assert any(line.startswith(("AT+QISWTMD", "AT+CIPSEND")) for line in commands)


def test_quectel_socket_is_back_in_command_mode_after_the_block(echo_server):
    with emulator("quectel") as fm, data_mode_modem("quectel", fm) as modem:
        sock = modem.socket()
        sock.settimeout(20)
        sock.connect(("127.0.0.1", echo_server.port))
        sock.sendall(b"before")
        assert read_exactly(sock, 6) == b"before"
        with sock.data_mode():
            sock.sendall(b"inside+++\r\nOK\r\n")  # the module's words in the data do not end the mode
            assert read_exactly(sock, 15) == b"inside+++\r\nOK\r\n"
        sock.sendall(b"after")
        assert read_exactly(sock, 5) == b"after"
        commands = fm.received_commands
        switch = max(i for i, line in enumerate(commands) if line.startswith("AT+QISWTMD"))
        assert any(line.startswith("AT+QISEND") for line in commands[switch:])  # command mode again
        sock.close()


def test_quectel_other_sockets_data_waits_safely_across_a_data_mode_session(tcp_server, echo_server):
    release, sent = threading.Event(), threading.Event()
    payload = os.urandom(48_000)  # below the module's receive buffer: it all waits in the module

    def source(conn):
        release.wait(30)
        conn.sendall(payload)
        sent.set()
        conn.recv(1)

    other_peer = tcp_server(source)
    with emulator("quectel") as fm, data_mode_modem("quectel", fm) as modem:
        other = modem.socket()
        other.settimeout(30)
        other.connect(("127.0.0.1", other_peer.port))
        sock = modem.socket()
        sock.settimeout(30)
        sock.connect(("127.0.0.1", echo_server.port))
        echoed = os.urandom(200_000)
        with sock.data_mode():
            release.set()
            assert sent.wait(30)  # the other socket's data reached the module while the line was raw
            sock.sendall(echoed)
            assert read_exactly(sock, len(echoed)) == echoed  # no notice of the other socket in it
        got = read_exactly(other, len(payload))
        assert hashlib.sha256(got).digest() == hashlib.sha256(payload).digest()
        other.close()
        sock.close()


def test_quectel_commands_wait_while_the_line_carries_data(echo_server):
    with emulator("quectel") as fm, data_mode_modem("quectel", fm) as modem:
        other = modem.socket()
        other.settimeout(30)
        other.connect(("127.0.0.1", echo_server.port))
        sock = modem.socket()
        sock.settimeout(30)
        sock.connect(("127.0.0.1", echo_server.port))
        results = {}

        def meanwhile():
            other.sendall(b"queued")
            results["echo"] = read_exactly(other, 6)
            results["address"] = modem.getaddrinfo("echo.test", 80)[0][-1]

        with sock.data_mode():
            commands_before = len(fm.received_commands)
            worker = threading.Thread(target=meanwhile)
            worker.start()
            worker.join(0.5)
            assert worker.is_alive() and not results  # nothing else goes out while the line is raw
            sock.sendall(b"raw bytes")
            assert read_exactly(sock, 9) == b"raw bytes"
            assert len(fm.received_commands) == commands_before
        worker.join(30)
        assert results == {"echo": b"queued", "address": ("127.0.0.1", 80)}
        other.close()
        sock.close()


@pytest.mark.parametrize("dialect,options", [
    ("quectel", {}),
    ("quectel", {"transparent_close": "urc"}),
    ("quectel", {"before_at": "ignored"}),  # the "+++" that proves the close is skipped, not an ERROR
    ("esp8285", {}),
    ("esp8285", {"firmware": "2.2"}),
    ("esp8285", {"before_at": "ignored"}),
])
def test_peer_close_in_data_mode_ends_the_stream_after_every_byte(dialect, options, tcp_server):
    payload = os.urandom(300_000) + b"\r\nNO CARR"  # ends with the start of the module's word

    def send_and_close(conn):
        conn.sendall(payload)

    peer = tcp_server(send_and_close)
    with emulator(dialect, **options) as fm, data_mode_modem(dialect, fm) as modem:
        sock = modem.socket()
        sock.settimeout(30)
        with sock.data_mode():
            sock.connect(("127.0.0.1", peer.port))
            got = sock.read()
        assert hashlib.sha256(got).digest() == hashlib.sha256(payload).digest()
        assert sock.read() == b""
        sock.close()
        assert wait_until(lambda: modem.socket_ids() == [] and open_ids(fm) == [])
        again = modem.socket()  # the modem is in command mode and its ids are free
        again.settimeout(30)
        again.connect(("127.0.0.1", peer.port))
        assert len(again.read()) == len(payload)
        again.close()


def test_esp_data_mode_needs_the_module_to_itself(echo_server):
    with emulator("esp8285") as fm, data_mode_modem("esp8285", fm) as modem:
        plain = modem.socket()
        plain.connect(("127.0.0.1", echo_server.port))
        lone = modem.socket()
        with pytest.raises(OSError) as info:
            with lone.data_mode():
                lone.connect(("127.0.0.1", echo_server.port))
        assert info.value.args[0] == errno.EBUSY
        plain.close()
        connected = modem.socket()
        connected.connect(("127.0.0.1", echo_server.port))
        with pytest.raises(OSError) as info:
            connected.data_mode().__enter__()  # passthrough opens its own connection
        assert info.value.args[0] == errno.EOPNOTSUPP
        connected.close()
        with lone.data_mode():
            lone.connect(("127.0.0.1", echo_server.port))
            third = modem.socket()
            with pytest.raises(OSError) as info:
                third.connect(("127.0.0.1", echo_server.port))
            assert info.value.args[0] == errno.EBUSY
            lone.sendall(b"alone")
            assert read_exactly(lone, 5) == b"alone"
        assert lone.read() == b""  # the connection ended with the block
        lone.close()
        third.connect(("127.0.0.1", echo_server.port))  # multi-connection mode is back
        third.sendall(b"back")
        assert read_exactly(third, 4) == b"back"
        third.close()


def test_data_mode_is_for_tcp():
    with emulator("quectel") as fm, data_mode_modem("quectel", fm) as modem:
        udp = modem.socket(atsock.AF_INET, atsock.SOCK_DGRAM)
        with pytest.raises(OSError) as info:
            udp.data_mode()
        assert info.value.args[0] == errno.EOPNOTSUPP
        udp.close()
