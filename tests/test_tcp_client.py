"""TCP client end to end: usocket call -> atsock -> pty -> fakemodem -> host socket -> real peer."""
import errno
import hashlib
import os
import socket as std_socket
import threading
import time

import pytest

import atsock

from .conftest import modem_settings, open_ids


def connect(modem, port, host="echo.test", timeout=10.0):
    sock = atsock.socket()
    sock.settimeout(timeout)
    sock.connect(atsock.getaddrinfo(host, port)[0][-1])
    return sock


def test_one_mebibyte_echo_has_equal_sha256(modem, echo_server):
    payload = os.urandom(1024 * 1024)
    sock = connect(modem, echo_server.port, timeout=60)
    sender = threading.Thread(target=sock.sendall, args=(payload,))
    sender.start()
    received = sock.read(len(payload))
    sender.join()
    assert len(received) == len(payload)
    assert hashlib.sha256(received).hexdigest() == hashlib.sha256(payload).hexdigest()
    sock.close()


@pytest.mark.parametrize("payload", [
    b"\r\nOK\r\n",
    b'+QIURC: "closed",0',
    b'\r\n+QIURC: "closed",0\r\n',
    b"\r\n> ",
    b"\x00\x00\x00",
    b"\r\n+QIRD: 5\r\n",
    b"\r\nERROR\r\n\r\nSEND FAIL\r\n",
    b">" * 1460 + b"\r\nOK\r\n",
    bytes(range(256)) * 8,
], ids=["ok", "closed-urc", "closed-urc-framed", "prompt", "nuls", "qird-header", "errors", "prompts",
        "all-bytes"])
def test_payloads_that_look_like_protocol_come_through_unchanged(modem, echo_server, payload):
    sock = connect(modem, echo_server.port)
    sock.write(payload)
    assert sock.read(len(payload)) == payload
    sock.close()


def test_data_then_remote_close_delivers_every_byte_then_eof(modem, tcp_server):
    body = os.urandom(300_000)
    server = tcp_server(lambda conn: conn.sendall(body))  # the handler returns, the server closes
    sock = connect(modem, server.port)
    time.sleep(0.3)  # let the close overtake the reads: every buffered byte must still arrive
    chunks = []
    while True:
        chunk = sock.recv(4096)
        if not chunk:
            break
        chunks.append(chunk)
    assert b"".join(chunks) == body
    assert sock.recv(100) == b""  # end of stream stays end of stream
    assert sock.read() == b""
    sock.close()


def test_read_without_size_reads_to_end_of_stream(modem, tcp_server):
    server = tcp_server(lambda conn: conn.sendall(b"line one\nline two\nrest"))
    sock = connect(modem, server.port)
    assert sock.readline() == b"line one\n"
    buf = bytearray(9)
    assert sock.readinto(buf) == 9
    assert bytes(buf) == b"line two\n"
    assert sock.read() == b"rest"
    sock.close()


def test_refused_connect_raises_econnrefused(modem):
    closed = std_socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()  # nothing listens there now
    sock = atsock.socket()
    with pytest.raises(OSError) as info:
        sock.connect(("127.0.0.1", port))
    assert info.value.args[0] == errno.ECONNREFUSED
    assert isinstance(info.value, ConnectionRefusedError)
    sock.close()


def test_unknown_host_raises_gaierror(modem):
    with pytest.raises(OSError) as info:
        atsock.getaddrinfo("no-such-host.test", 80)
    assert isinstance(info.value, std_socket.gaierror)
    assert info.value.args[0] == std_socket.EAI_NONAME


def test_read_timeout_raises_etimedout_and_keeps_the_socket_usable(modem, tcp_server):
    release = threading.Event()

    def late_sender(conn):
        release.wait(10)
        conn.sendall(b"late but whole")
        conn.recv(1)

    server = tcp_server(late_sender)
    sock = connect(modem, server.port)
    sock.settimeout(0.3)
    started = time.monotonic()
    with pytest.raises(OSError) as info:
        sock.recv(10)
    assert info.value.args[0] == errno.ETIMEDOUT
    assert isinstance(info.value, std_socket.timeout)
    assert 0.25 < time.monotonic() - started < 3
    release.set()
    sock.settimeout(5)
    assert sock.read(14) == b"late but whole"
    sock.close()


def test_partial_read_that_times_out_loses_nothing(modem, tcp_server):
    release = threading.Event()

    def two_parts(conn):
        conn.sendall(b"first-")
        release.wait(10)
        conn.sendall(b"second")
        conn.recv(1)

    server = tcp_server(two_parts)
    sock = connect(modem, server.port)
    sock.settimeout(0.5)
    with pytest.raises(TimeoutError):
        sock.read(12)  # only 6 of 12 bytes come in time
    release.set()
    sock.settimeout(5)
    assert sock.read(12) == b"first-second"
    sock.close()


def test_connect_to_blackholed_address_times_out(modem):
    sock = atsock.socket()
    sock.settimeout(0.5)
    with pytest.raises(OSError) as info:
        sock.connect(("127.0.0.66", 80))
    assert info.value.args[0] == errno.ETIMEDOUT
    sock.close()


def test_getaddrinfo_returns_five_tuples_and_ip_literals_need_no_at_command(modem, fake_modem):
    result = atsock.getaddrinfo("www.test", 8080)
    assert result == [(atsock.AF_INET, atsock.SOCK_STREAM, atsock.IPPROTO_TCP, "", ("127.0.0.1", 8080))]
    before = len(fake_modem.received_commands)
    assert atsock.getaddrinfo("127.0.0.1", 80)[0][-1] == ("127.0.0.1", 80)
    assert len(fake_modem.received_commands) == before


def test_socket_errors_by_state(modem, echo_server):
    sock = atsock.socket()
    with pytest.raises(OSError) as info:
        sock.recv(1)
    assert info.value.args[0] == errno.ENOTCONN
    with pytest.raises(OSError) as info:
        sock.send(b"x")
    assert info.value.args[0] == errno.ENOTCONN
    sock.connect(("127.0.0.1", echo_server.port))
    with pytest.raises(OSError) as info:
        sock.connect(("127.0.0.1", echo_server.port))
    assert info.value.args[0] == errno.EISCONN
    sock.close()
    sock.close()  # closing twice is harmless
    for call in (lambda: sock.recv(1), lambda: sock.send(b"x"), lambda: sock.connect(("127.0.0.1", 1))):
        with pytest.raises(OSError) as info:
            call()
        assert info.value.args[0] == errno.EBADF


def test_with_statement_closes_the_connect_id(modem, fake_modem, echo_server):
    with connect(modem, echo_server.port) as sock:
        sock.sendall(b"ping")
        assert sock.read(4) == b"ping"
        assert open_ids(fake_modem) == [0]
    assert open_ids(fake_modem) == []


def test_send_after_peer_closed_raises(modem, tcp_server):
    server = tcp_server(lambda conn: None)  # accept and close at once
    sock = connect(modem, server.port)
    assert sock.recv(10) == b""
    with pytest.raises(OSError) as info:
        sock.sendall(b"too late")
    assert info.value.args[0] == errno.EPIPE  # half-closed: the modules cannot write on it
    assert isinstance(info.value, BrokenPipeError)
    sock.close()


def test_modem_close_closes_sockets_and_module_level_calls_need_a_modem(fake_modem, dialect, echo_server):
    modem = atsock.open_modem(fake_modem.port, dialect=dialect, **modem_settings(dialect))
    assert modem.state == "online"
    sock = connect(modem, echo_server.port)
    modem.close()
    assert modem.state == "closed"
    assert open_ids(fake_modem) == []
    with pytest.raises(OSError) as info:
        sock.recv(1)
    assert info.value.args[0] in (errno.EBADF, errno.EIO)
    with pytest.raises(OSError) as info:
        atsock.socket()
    assert info.value.args[0] == errno.ENETDOWN


EARLIER_PROCESS = {  # what a host process that died without closing its sockets had sent
    "quectel": [('AT+QIOPEN=1,{id},"TCP","127.0.0.1",{port},0,0\r', b"+QIOPEN: {id},0")],
    "esp8285": [("AT+CIPMUX=1\r\n", b"OK"), ('AT+CIPSTART={id},"TCP","127.0.0.1",{port}\r\n', b"{id},CONNECT")],
}


def test_links_left_open_by_an_earlier_process_are_closed(fake_modem, dialect, echo_server):
    import serial

    first = atsock.open_modem(fake_modem.port, dialect=dialect, **modem_settings(dialect))
    first.close()
    raw = serial.Serial(fake_modem.port, 115200, timeout=2)
    for link_id in (3, 1):
        for command, answer in EARLIER_PROCESS[dialect]:
            raw.write(command.format(id=link_id, port=echo_server.port).encode())
            expected = answer.replace(b"{id}", b"%d" % link_id)
            assert expected in raw.read_until(expected)
    raw.close()
    assert open_ids(fake_modem) == [1, 3]
    with atsock.open_modem(fake_modem.port, dialect=dialect, **modem_settings(dialect)):
        assert open_ids(fake_modem) == []


def test_caller_strings_cannot_inject_at_commands(fake_modem, dialect):
    field = "apn" if dialect == "quectel" else "ssid"
    for bad in ('x"\r\nAT+CFUN=0', "x\rAT", "caf\u00e9", "a" * 100, "\x00"):
        with pytest.raises(ValueError):
            atsock.open_modem(fake_modem.port, dialect=dialect, **dict(modem_settings(dialect), **{field: bad}))
    assert fake_modem.received_commands == []  # refused before a byte was written
    with atsock.open_modem(fake_modem.port, dialect=dialect, **modem_settings(dialect)):
        for bad in ('evil"\rAT+QICLOSE=0', "a b", "x" * 300, "-bad-.test"):
            with pytest.raises(ValueError):
                atsock.getaddrinfo(bad, 80)
        assert not any("QIDNSGIP" in c or "CIPDOMAIN" in c for c in fake_modem.received_commands)


def test_every_socket_of_the_modem_in_use_then_freed(modem, echo_server):
    sockets = [connect(modem, echo_server.port) for _ in range(modem.max_sockets)]
    extra = atsock.socket()
    with pytest.raises(OSError) as info:
        extra.connect(("127.0.0.1", echo_server.port))
    assert info.value.args[0] == errno.EMFILE
    for index, sock in enumerate(sockets):
        sock.write(b"%d" % index)
    for index, sock in enumerate(sockets):
        assert sock.read(len(b"%d" % index)) == b"%d" % index
    sockets[2].close()
    extra.connect(("127.0.0.1", echo_server.port))
    extra.write(b"reused")
    assert extra.read(6) == b"reused"
    for sock in sockets + [extra]:
        sock.close()


def test_a_socket_dropped_without_close_gives_its_connect_id_back(modem, fake_modem, echo_server):
    import gc

    sock = connect(modem, echo_server.port)
    assert open_ids(fake_modem) == [0]
    del sock
    gc.collect()
    deadline = time.monotonic() + 5
    # the module lets the id go first; atsock frees it once the module's answer is read, a moment later
    while (open_ids(fake_modem) or modem.socket_ids()) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert open_ids(fake_modem) == []
    assert modem.socket_ids() == []


def test_a_peer_that_never_reads_makes_send_fail_not_hang(modem, dialect, tcp_server):
    stop = threading.Event()

    def never_reads(conn):
        conn.setsockopt(std_socket.SOL_SOCKET, std_socket.SO_RCVBUF, 4096)
        stop.wait(30)

    server = tcp_server(never_reads)
    sock = connect(modem, server.port)
    sock.settimeout(1.0)
    chunk = os.urandom(64 * 1024)
    sent = 0
    started = time.monotonic()
    with pytest.raises(OSError) as info:
        while time.monotonic() - started < 60:
            sock.sendall(chunk)
            sent += len(chunk)
    # Quectel: SEND FAIL (buffer full) is retried until the socket's timeout; ESP-AT: a TCP
    # SEND FAIL means part of a chunk may be lost, so the stream is broken, never silently shortened.
    assert info.value.args[0] == (errno.ETIMEDOUT if dialect == "quectel" else errno.EIO)
    assert sent > 0
    stop.set()
    sock.close()
