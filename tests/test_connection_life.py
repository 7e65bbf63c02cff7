"""One owner for a connection's life: an id never carries one socket's traffic or notices into the
next socket that gets it. End to end on both dialects: atsock -> pty -> emulator -> real peers."""
import errno
import socket as std_socket
import threading
import time

import pytest

import atsock
from atsock.select import POLLERR, poll
from fakemodem import FakeModem

from .conftest import WIFI, emulator_options, modem_settings, open_ids


def closed_port() -> int:
    probe = std_socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()  # nothing listens there now
    return port


def connect(modem, port, timeout=10):
    sock = modem.socket()
    sock.settimeout(timeout)
    sock.connect(("127.0.0.1", port))
    return sock


def wait_until(predicate, seconds=10.0):
    deadline = time.monotonic() + seconds
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def test_closing_a_socket_stops_its_blocked_sender_and_its_bytes_never_reach_the_next_socket(dialect, tcp_server):
    stop_reading = threading.Event()
    received_by = {}

    def stalling_peer(conn):  # reads a little, then nothing until the test ends
        conn.setsockopt(std_socket.SOL_SOCKET, std_socket.SO_RCVBUF, 4096)
        conn.recv(10)
        stop_reading.wait(30)

    def recording_peer(conn):
        got = bytearray()
        while True:
            data = conn.recv(65536)
            if not data:
                break
            got += data
        received_by["B"] = bytes(got)

    stalled = tcp_server(stalling_peer)
    recorder = tcp_server(recording_peer)
    # a paced line and small module buffers: the 2 MB send is still under way when A is closed
    with FakeModem(dialect, baudrate=921600, faults={"buffer": 4096}, **emulator_options(dialect)) as fake_modem, \
            atsock.open_modem(fake_modem.port, dialect=dialect, baudrate=921600, **modem_settings(dialect)) as modem:
        a = connect(modem, stalled.port, timeout=None)
        outcome = {}

        def blocked_sender():
            try:
                a.sendall(b"w" * 2_000_000)
                outcome["returned"] = True
            except OSError as exc:
                outcome["error"] = exc

        sender = threading.Thread(target=blocked_sender)
        sender.start()
        time.sleep(1.0)  # the sender is stuck behind the full buffer by now
        a.close()
        sender.join(30)
        assert not sender.is_alive()
        assert "returned" not in outcome, "a sendall on a socket closed under it must not return normally"
        assert isinstance(outcome["error"], OSError)
        if dialect == "quectel":  # SEND FAIL means "full, try again": the close is what ends the send
            assert outcome["error"].args[0] == errno.EBADF

        b = connect(modem, recorder.port)
        b.sendall(b"HELLO-FROM-B")
        b.close()
        assert wait_until(lambda: "B" in received_by)
        assert received_by["B"] == b"HELLO-FROM-B"
        stop_reading.set()
        assert wait_until(lambda: modem.socket_ids() == [] and open_ids(fake_modem) == [])


def test_a_refused_connect_followed_at_once_by_a_live_one_never_wedges_an_id(modem, fake_modem, echo_server):
    refused = closed_port()
    for attempt in range(100):
        failing = modem.socket()
        with pytest.raises(OSError) as info:
            failing.connect(("127.0.0.1", refused))
        assert info.value.args[0] == errno.ECONNREFUSED
        failing.close()
        live = connect(modem, echo_server.port)
        payload = b"attempt %d" % attempt
        live.sendall(payload)
        assert live.read(len(payload)) == payload
        live.close()
    assert wait_until(lambda: modem.socket_ids() == [] and open_ids(fake_modem) == [])


def test_open_send_close_against_a_server_that_closes_after_reading(modem, fake_modem, tcp_server):
    server = tcp_server(lambda conn: conn.recv(100))  # reads the request, then closes at once
    for round_number in range(50):
        sock = connect(modem, server.port)
        sock.sendall(b"round %d" % round_number)
        assert sock.recv(10) == b""  # the peer's close, never an error inherited from an earlier round
        sock.close()
    assert wait_until(lambda: modem.socket_ids() == [] and open_ids(fake_modem) == [])


def test_open_send_close_against_a_server_that_closes_at_once(modem, fake_modem, tcp_server):
    server = tcp_server(lambda conn: None)  # accepts and closes before anything arrives
    for round_number in range(50):
        sock = connect(modem, server.port)
        try:
            sock.sendall(b"round %d" % round_number)
        except OSError as exc:  # the close may have been seen first: then writing is refused as such
            # (ESP-AT answers SEND FAIL when the peer is gone mid-send: EIO, the stream is broken)
            assert exc.args[0] in (errno.EPIPE, errno.ECONNRESET, errno.EIO), exc
        assert sock.recv(10) == b""
        sock.close()
    assert wait_until(lambda: modem.socket_ids() == [] and open_ids(fake_modem) == [])


def test_active_receive_overflow_stops_at_the_exact_boundary(tcp_server):
    from modems.esp.links import ACTIVE_LIMIT

    pattern = bytes(range(256)) * (2 * ACTIVE_LIMIT // 256)  # twice what the socket may hold
    server = tcp_server(lambda conn: conn.sendall(pattern))
    with FakeModem("esp8285", **emulator_options("esp8285")) as fm, \
            atsock.open_modem(fm.port, dialect="esp8285", receive="active", **WIFI) as modem:
        sock = connect(modem, server.port)
        poller = poll()
        poller.register(sock)
        deadline = time.monotonic() + 60
        while not any(events & POLLERR for _, events in poller.poll(1000)):
            assert time.monotonic() < deadline, "the limit never tripped"
        got = bytearray()
        with pytest.raises(OSError) as info:
            while True:
                chunk = sock.recv(65536)
                assert chunk, "end of stream instead of the overflow error"
                got += chunk
        assert info.value.args[0] == errno.ENOBUFS
        assert len(got) == ACTIVE_LIMIT
        assert bytes(got) == pattern[:ACTIVE_LIMIT]
        sock.close()


def test_a_late_close_notice_of_a_failed_open_is_not_applied_to_the_next_socket(modem, echo_server):
    """The refused open's ``CLOSED``/``+QIOPEN`` trail arrives while the next open is queued."""
    refused = closed_port()
    failing, live = modem.socket(), modem.socket()
    live.settimeout(10)
    outcome = {}

    def refuse():
        try:
            failing.connect(("127.0.0.1", refused))
        except OSError as exc:
            outcome["refused"] = exc.args[0]

    worker = threading.Thread(target=refuse)
    worker.start()
    live.connect(("127.0.0.1", echo_server.port))  # races the refused one for the same id
    worker.join(30)
    assert outcome["refused"] == errno.ECONNREFUSED
    live.sendall(b"intact")
    assert live.read(6) == b"intact"
    live.close()
    failing.close()


def test_a_close_still_on_its_way_when_the_modem_closes_is_finished_first(dialect, echo_server):
    """A socket closed on one thread while another closes the modem (a proxy stopping while a
    client leaves): the modem's close waits for that socket's close command, so the module is
    left with no id in use."""
    with FakeModem(dialect, latency=0.3, **emulator_options(dialect)) as fm:
        modem = atsock.open_modem(fm.port, dialect=dialect, **modem_settings(dialect))
        sock = modem.socket()
        sock.connect(("127.0.0.1", echo_server.port))
        closer = threading.Thread(target=sock.close)
        closer.start()
        time.sleep(0.1)  # its close command is out, the answer is not (the module takes 0.3 s)
        modem.close()
        closer.join(5)
        assert open_ids(fm) == []
