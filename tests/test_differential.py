"""Differential test: each socket method, called with arbitrary arguments on an atsock socket and on
a CPython socket in the same state, must fail the same way (the same exception type) or give the
same result (the same bytes for data) — but for the deliberate differences listed in
:mod:`tests.differential`.

States: a connected TCP pair (both connected to one peer on 127.0.0.1, which sends both the same
bytes and reads whatever comes), a listening socket, a bound UDP socket (which the same peer sent
the same datagram), and a closed socket; for both dialects, one modem each for the whole module.
Between calls both sockets are non-blocking, so a call that would wait fails at once on both.
"""
import os
import socket as std
import threading
import time

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import atsock
from fakemodem import FakeModem

from .conftest import DIALECTS, emulator_options, modem_settings
from .differential import (DIFFERENCES, RECEIVING, STAND_INS, Call, calls, carried_data, compare, explicit_calls,
                           run)

PATTERN = bytes(range(256)) * 6  # what the peer sends each new connection, and the UDP datagram's prefix
DATAGRAM = b"datagram:" + PATTERN[:300]
# per state and dialect; ATSOCK_DIFFERENTIAL_EXAMPLES=2000 for a longer hunt
EXAMPLES = int(os.environ.get("ATSOCK_DIFFERENTIAL_EXAMPLES", "400"))
CHANGES_STATE = {"close", "connect", "connect_ex", "bind", "listen"}

SMUGGLED = ("AT+QIDEACT", "AT+CWQAP", "AT+GMR")  # what the arbitrary values try to slip in


@pytest.fixture(scope="module", params=DIALECTS)
def shared_modem(request):
    dialect = request.param
    with FakeModem(dialect, **emulator_options(dialect)) as fm:
        with atsock.open_modem(fm.port, dialect=dialect, **modem_settings(dialect)) as modem:
            yield dialect, fm, modem


class Peer:
    """On 127.0.0.1: a TCP server that sends PATTERN to every client and reads until it leaves,
    and a UDP socket that sends DATAGRAM when asked and ignores what it gets."""

    def __init__(self):
        self.tcp = std.create_server(("127.0.0.1", 0))
        self.udp = std.socket(std.AF_INET, std.SOCK_DGRAM)
        self.udp.bind(("127.0.0.1", 0))
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.tcp.accept()
            except OSError:
                return
            threading.Thread(target=self._talk, args=(conn,), daemon=True).start()

    @staticmethod
    def _talk(conn):
        with conn:
            try:
                conn.sendall(PATTERN)
                while conn.recv(65536):
                    pass
            except OSError:
                pass

    def close(self):
        self.tcp.close()
        self.udp.close()


@pytest.fixture(scope="module")
def peer():
    p = Peer()
    yield p
    p.close()


def _wait_for(sock, wanted: int, peek_limit: int) -> None:
    """Block until ``sock`` holds ``wanted`` bytes (peeked, nothing taken)."""
    sock.settimeout(10)
    for _ in range(500):
        if len(sock.recv(peek_limit, std.MSG_PEEK)) >= wanted:
            return
        time.sleep(0.01)
    raise AssertionError(f"{sock!r} never received {wanted} bytes")


class Pair:
    """One CPython socket and one atsock socket in the same state, made again when a call may have
    changed that state."""

    def __init__(self, state, modem, peer):
        self.state, self.modem, self.peer = state, modem, peer
        self.sockets = None
        self.calls = 0
        self.with_data = 0  # receives whose bytes were compared

    @property
    def address(self):
        return self.peer.udp.getsockname() if self.state == "udp" else self.peer.tcp.getsockname()

    def _make(self):
        if self.state == "udp":
            cpy, ats = std.socket(std.AF_INET, std.SOCK_DGRAM), self.modem.socket(atsock.AF_INET, atsock.SOCK_DGRAM)
            cpy.bind(("127.0.0.1", 0))
            ats.bind(("0.0.0.0", 0))
            for sock in (cpy, ats):
                self.peer.udp.sendto(DATAGRAM, ("127.0.0.1", sock.getsockname()[1]))
                _wait_for(sock, len(DATAGRAM), 2000)
        else:
            cpy, ats = std.socket(), self.modem.socket()
            if self.state == "connected":
                for sock in (cpy, ats):
                    # blocking: after a connect with a time-out, CPython lets a second connect()
                    # pass silently instead of EISCONN (it takes that for its own connect finishing)
                    sock.connect(self.address)
                    _wait_for(sock, len(PATTERN), len(PATTERN))
            elif self.state == "listening":
                cpy.bind(("127.0.0.1", 0))
                cpy.listen(2)
                ats.listen(2)
            elif self.state == "closed":
                cpy.close()
                ats.close()
        for sock in (cpy, ats):
            if self.state != "closed":
                sock.settimeout(0)
        return cpy, ats

    def check(self, call: Call) -> None:
        if self.sockets is None:
            self.sockets = self._make()
        cpy, ats = self.sockets
        self.calls += 1
        cpy_out, ats_out = run(cpy, call), run(ats, call)
        problem, difference = compare(call, cpy_out, ats_out, self.state)
        self.with_data += carried_data(call, cpy_out) and problem is None and difference is None
        if call.method in ("settimeout", "setblocking") and self.state != "closed":
            for sock in (cpy, ats):
                sock.settimeout(0)
        if call.method in CHANGES_STATE or difference is not None:
            self.drop()  # (a call one side refused may have changed the other: the pair starts afresh)
        elif isinstance(cpy_out.error, BlockingIOError) and call.method in RECEIVING and self.state != "listening":
            self.drop()  # all read: the next pair brings fresh data to compare
        assert problem is None, problem

    def drop(self):
        if self.sockets is not None:
            for sock in self.sockets:
                sock.close()
        self.sockets = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.drop()


@pytest.mark.parametrize("state", ["connected", "listening", "udp", "closed"])
def test_socket_methods_fail_and_answer_as_cpython_does(shared_modem, peer, state):
    dialect, fm, modem = shared_modem
    before = len(fm.received_commands)
    for difference in DIFFERENCES + STAND_INS:
        difference.used = 0
    with Pair(state, modem, peer) as pair:
        peer_address = pair.address

        @settings(max_examples=EXAMPLES, deadline=None, database=None,
                  suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
        @given(st.lists(calls(peer_address), min_size=1, max_size=4))
        @example(list(explicit_calls(peer_address)))
        def check(sequence):
            try:
                for call in sequence:
                    pair.check(call)
            except BaseException:
                pair.drop()  # the next example (hypothesis shrinking this one) starts from the state
                raise

        check()
    assert modem.state == "online"
    sent = list(fm.received_commands)[before:]
    assert not [c for c in sent if c.startswith(SMUGGLED)], "a command from an argument reached the module"
    assert pair.calls >= EXAMPLES
    print(f"\ndifferential {dialect}/{state}: {EXAMPLES} examples, {pair.calls} calls compared "
          f"({pair.with_data} of them receives with data); deliberate differences met: "
          + ", ".join(f"{d.name} {d.used}" for d in STAND_INS + DIFFERENCES))
