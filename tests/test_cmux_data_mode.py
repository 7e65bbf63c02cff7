"""Data mode on several sockets at once over CMUX, end to end: each ``with sock.data_mode()`` runs on a
channel of its own (DLCI 2-4), raw both ways, while commands, command-mode sockets and notices go on
on DLCI 1.

The emulator runs unpaced with short guard times (its ``escape_guard``, matched by the modem's);
its module boots at the fast rate atsock opens the port at, so atsock's line clock counts a fast
line for the same reason.
"""
import errno
import hashlib
import os
import threading
import time

import pytest

import atsock
from atsock.core.transparent import RECEIVE_HIGH
from fakemodem import FakeModem

from .conftest import emulator_options
from .test_data_mode import digest_peer, read_exactly, wait_until
from .test_recovery import expect_error

GUARD = 0.05
FAST_LINE = 12_000_000


def cmux_emulator(guard=GUARD, baudrate=None, **cmux):
    rate = dict(baudrate=baudrate) if baudrate else dict(boot_baudrate=FAST_LINE)  # (the rate atsock opens at)
    return FakeModem("quectel", escape_guard=guard, cmux=cmux, **rate, **emulator_options("quectel"))


def cmux_modem(fm, guard=GUARD, baudrate=FAST_LINE):
    return atsock.open_modem(fm.port, dialect="quectel", apn="internet", cmux=True, escape_guard=guard,
                             baudrate=baudrate)


def connected(modem, port):
    sock = modem.socket()
    sock.settimeout(20)
    sock.connect(("127.0.0.1", port))
    return sock


def carried(fm) -> set:
    """The channels whose transparent mode carries a socket, seen inside the emulator."""
    def look():
        return {sock.carrier.dlci for sock in fm.module.services.sockets.values()
                if sock.carrier is not None and hasattr(sock.carrier, "dlci")}
    return fm.call(look)


def exchange(sock, size, seed):
    """Sends ``size`` seeded bytes through the digest peer and checks both ways."""
    upload = hashlib.sha256(seed).digest() * (size // 32)
    sock.sendall(len(upload).to_bytes(8, "big") + upload)
    assert read_exactly(sock, 32) == hashlib.sha256(upload).digest()
    expected = read_exactly(sock, 32)
    assert hashlib.sha256(read_exactly(sock, 2 ** 20)).digest() == expected
    sock.sendall(b"bye")
    assert read_exactly(sock, 4) == b"bye!"


def test_two_sockets_in_data_mode_at_once_with_commands_beside_them(tcp_server, echo_server):
    peer = tcp_server(digest_peer)
    with cmux_emulator() as fm, cmux_modem(fm) as modem:
        a, b = connected(modem, peer.port), connected(modem, peer.port)
        c = connected(modem, echo_server.port)  # stays in command mode
        with a.data_mode(), b.data_mode():
            assert carried(fm) == {2, 3}
            failures = []

            def run(sock, seed):
                try:
                    exchange(sock, 256 * 1024, seed)
                except BaseException as exc:  # reported below
                    failures.append(exc)

            workers = [threading.Thread(target=run, args=(s, seed)) for s, seed in ((a, b"a"), (b, b"b"))]
            for worker in workers:
                worker.start()
            echoes = 0
            while any(worker.is_alive() for worker in workers):
                c.write(b"ping %d" % echoes)                      # a command-mode socket meanwhile
                assert read_exactly(c, len(b"ping %d" % echoes)) == b"ping %d" % echoes
                assert modem.at("AT+CSQ").lines[0].startswith("+CSQ:")  # and raw commands
                echoes += 1
            for worker in workers:
                worker.join()
            assert not failures, failures
            assert echoes >= 1
        assert carried(fm) == set()
        for sock in (a, b):  # back in command mode, the connections open: a last byte, then the peer closes
            sock.write(b".")
            assert sock.read(10) == b""
        stats = modem.stats["cmux"]
        assert stats["dropped"] == 0 and stats["bad_fcs"] == 0


def test_every_channel_busy_is_ebusy_and_a_channel_is_used_again(echo_server):
    with cmux_emulator() as fm, cmux_modem(fm) as modem:
        socks = [connected(modem, echo_server.port) for _ in range(4)]
        blocks = [sock.data_mode() for sock in socks]
        for block in blocks[:3]:
            block.__enter__()
        assert carried(fm) == {2, 3, 4}
        with pytest.raises(OSError) as info:
            blocks[3].__enter__()
        assert info.value.args[0] == errno.EBUSY
        blocks[0].__exit__(None, None, None)
        opened = fm.received_commands.count("ATE0")
        with socks[3].data_mode():  # the channel the first one left
            socks[3].write(b"again")
            assert read_exactly(socks[3], 5) == b"again"
        assert fm.received_commands.count("ATE0") == opened  # no channel opened afresh
        for block in blocks[1:3]:
            block.__exit__(None, None, None)
        for sock in socks:
            sock.write(b"cmd")
            assert read_exactly(sock, 3) == b"cmd"


def test_a_peer_closing_ends_its_own_channel_only(tcp_server, echo_server):
    def say_and_hang_up(conn):
        if conn.recv(2) == b"go":
            conn.sendall(b"last words")
        conn.close()

    with cmux_emulator() as fm, cmux_modem(fm) as modem:
        closer = connected(modem, tcp_server(say_and_hang_up).port)
        other = connected(modem, echo_server.port)
        with other.data_mode():
            with closer.data_mode():
                closer.write(b"go")
                assert read_exactly(closer, 10) == b"last words"
                assert closer.read(10) == b""   # NO CARRIER on its channel: end of stream
            other.write(b"still here")
            assert read_exactly(other, 10) == b"still here"


def test_a_restart_fails_every_socket_in_data_mode_and_the_modem_comes_back(echo_server):
    with cmux_emulator() as fm, cmux_modem(fm) as modem:
        a, b = connected(modem, echo_server.port), connected(modem, echo_server.port)
        a_block, b_block = a.data_mode(), b.data_mode()
        a_block.__enter__()
        b_block.__enter__()
        fm.reboot()
        for sock in (a, b):
            expect_error(sock, errno.ECONNRESET)
        assert wait_until(lambda: modem.state == "online" and modem.recoveries == 1, 60)
        for block in (a_block, b_block):
            block.__exit__(None, None, None)
        c = connected(modem, echo_server.port)
        with c.data_mode():
            c.write(b"back")
            assert read_exactly(c, 4) == b"back"


@pytest.mark.parametrize("brake", ["msc", "fcoff"])
def test_the_modules_brake_holds_the_socket_without_losing_a_byte(tcp_server, brake):
    """The peer reads slowly: the module stops the host (MSC on the channel, or FCoff) until its
    buffer toward the peer drains, and every byte arrives in order. On a paced line, with a guard's
    silence after the peer has every byte before the block ends: the emulator's UART, starved of
    CPU on a loaded machine, can fall behind the line's rate by more than a guard time, and the
    host's clock would then end the silence too early (a real UART does not fall behind)."""
    got = bytearray()

    def slow_reader(conn):
        while True:
            data = conn.recv(4096)
            if not data:
                return
            got.extend(data)
            threading.Event().wait(0.002)

    peer = tcp_server(slow_reader)
    payload = os.urandom(256 * 1024)
    with cmux_emulator(0.5, 921600, flow_control=brake) as fm, cmux_modem(fm, 0.5, 921600) as modem:
        sock = connected(modem, peer.port)
        with sock.data_mode():
            sock.sendall(payload)
            assert wait_until(lambda: len(got) == len(payload), 60)
            time.sleep(0.5)
        assert bytes(got) == payload


def test_a_slow_reader_brakes_the_module_on_its_channel_only(tcp_server, echo_server):
    """The caller does not read: past 64 KiB waiting, atsock asks the module to hold that channel
    (MSC with FC set); the module stops sending on it (and reading from the peer), so the host holds
    a bounded amount; once the caller reads, everything comes, in order, and the brake is off."""
    payload = os.urandom(2 * 1024 * 1024)

    def pour(conn):
        conn.recv(2)
        conn.sendall(payload)
        conn.recv(1)

    peer = tcp_server(pour)
    with cmux_emulator() as fm, cmux_modem(fm) as modem:
        slow = connected(modem, peer.port)
        other = connected(modem, echo_server.port)
        with slow.data_mode(), other.data_mode():
            slow.write(b"go")
            assert wait_until(lambda: fm.call(lambda: fm.module.cmux.session.ports[2].line.stopped))
            # bounded: the mark and what was on its way; the rest waits in the module and the peer
            assert slow._conn.buffered < 4 * RECEIVE_HIGH
            other.write(b"meanwhile")                  # the other channel goes on
            assert read_exactly(other, 9) == b"meanwhile"
            got = read_exactly(slow, len(payload))
            assert got == payload
            assert not fm.call(lambda: fm.module.cmux.session.ports[2].line.stopped)
