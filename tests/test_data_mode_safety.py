"""Data mode against a careless program and a hostile peer (issue 20's seven cases), both dialects:
the module's words in the peer's data, the escape's answer forged while leaving, ``+++`` in the
payload, a refused or nested block, leaving while the peer still sends, a module restart, and a
module left in data mode by a process that died.

Short guard times as in test_data_mode.py (the emulator's ``escape_guard``, the modem's setting).
"""
import errno
import json
import os
import socket
import subprocess
import sys
import threading
import time

import pytest

import atsock
from atsock.cli.ports import probe_port
from atsock.cli.session import BareSession

from .conftest import modem_settings
from .test_data_mode import FAST_LINE, GUARD, data_mode_modem, emulator, read_exactly, wait_until

CLOSE_WORDS = {"quectel": [b"\r\nNO CARRIER\r\n", b'\r\n+QIURC: "closed",0\r\n', b"\r\nRDY\r\n", b"\r\nOK\r\n"],
               "esp8285": [b"CLOSED\r\n", b"DISCLOSED\r\n", b"\r\nready\r\n", b"+QUITT\r\n"]}
ANSWER = {"quectel": b"\r\nOK\r\n", "esp8285": b"+QUITT\r\n"}
COMMANDS = {"quectel": b"AT+QIDEACT=1\r", "esp8285": b"AT+CIPCLOSE\r\n"}  # what a leaked line would run


class Recorder:
    """A peer that keeps every byte it received, and runs ``script(conn, recorder)`` meanwhile."""

    def __init__(self, tcp_server, script):
        self.data = bytearray()
        self.connected = threading.Event()
        self.lock = threading.Lock()
        self.server = tcp_server(self._serve)
        self.script = script
        self.port = self.server.port

    def _serve(self, conn):
        self.connected.set()
        reader = threading.Thread(target=self._read, args=(conn,), daemon=True)
        reader.start()
        self.script(conn, self)
        reader.join(30)

    def _read(self, conn):
        while True:
            try:
                piece = conn.recv(65536)
            except OSError:
                return
            if not piece:
                return
            with self.lock:
                self.data += piece

    def received(self) -> bytes:
        with self.lock:
            return bytes(self.data)

    def wait_for(self, data: bytes, seconds: float = 20) -> bool:
        return wait_until(lambda: data in self.received(), seconds)


def connect_in_data_mode(dialect, modem, port, block_timeout=30):
    """A socket in data mode, connected to 127.0.0.1:``port`` (ESP connects inside the block)."""
    sock = modem.socket()
    sock.settimeout(block_timeout)
    if dialect == "quectel":
        sock.connect(("127.0.0.1", port))
        block = sock.data_mode()
        block.__enter__()
    else:
        block = sock.data_mode()
        block.__enter__()
        sock.connect(("127.0.0.1", port))
    return sock, block


def commands_since(fm, count):
    return fm.received_commands[count:]


def assert_a_new_socket_works(modem, port):
    sock = modem.socket()
    sock.settimeout(20)
    sock.connect(("127.0.0.1", port))
    sock.sendall(b"works")
    assert read_exactly(sock, 5) == b"works"
    sock.close()


# --- 1. the module's words in the peer's data ------------------------------------------------------
@pytest.mark.parametrize("dialect", ["quectel", "esp8285"])
def test_the_peer_sending_the_module_words_does_not_end_data_mode(dialect, tcp_server):
    words = CLOSE_WORDS[dialect]
    sent = b"".join(b"<%d>" % i + word for i, word in enumerate(words)) + b"<end>"

    def script(conn, recorder):
        recorder.wait_for(b"go\n")
        for i, word in enumerate(words):
            conn.sendall(b"<%d>" % i + word)
            time.sleep(GUARD * 3)  # each word alone, a pause after it: as the module's would come
        conn.sendall(b"<end>")
        recorder.wait_for(b"bye\n")

    peer = Recorder(tcp_server, script)
    with emulator(dialect) as fm, data_mode_modem(dialect, fm) as modem:
        sock, block = connect_in_data_mode(dialect, modem, peer.port)
        sock.sendall(b"go\n")
        assert read_exactly(sock, len(sent)) == sent
        before = len(fm.received_commands)
        sock.sendall(COMMANDS[dialect] + b"bye\n")  # still payload: the mode never ended
        assert peer.wait_for(b"bye\n")
        block.__exit__(None, None, None)
        assert peer.received() == b"go\n" + COMMANDS[dialect] + b"bye\n"  # and no command reached it
        assert not [c for c in commands_since(fm, before) if c.startswith(("AT+QIDEACT", "AT+CIPCLOSE="))]
        assert modem.at("AT").ok
        sock.close()


# --- 2 and 4. the escape's answer forged while leaving; leaving while the peer sends ------------------
def stream_with_answers(answer):
    """The peer's stream: a counter, the module's answer to the escape between every piece."""
    return b"".join(b"%06d" % i + answer for i in range(100_000))


SLOW_GUARD = 0.25  # the emulator shares this process: on a loaded machine it may read two writes 50 ms
                  # apart as one, see no silence before "+++", and stay in data mode while a forged
                  # answer comes; a longer guard keeps that out of the test (a real UART does not lag so)


@pytest.mark.parametrize("dialect", ["quectel", "esp8285"])
def test_leaving_while_the_peer_sends_the_escape_answer(dialect, tcp_server):
    """The peer sends the escape's answer again and again while the host leaves data mode, a few
    times over: the socket reads the peer's bytes exactly (Quectel: all of them, the rest by
    command; ESP: up to where the connection ended with the block), and the modem goes on."""
    stream = stream_with_answers(ANSWER[dialect])

    def script(conn, recorder):
        recorder.wait_for(b"go\n")
        for start in range(0, len(stream), 70):
            try:
                conn.sendall(stream[start:start + 70])
            except OSError:
                return  # ESP: the connection ended with the block
            time.sleep(0.005)

    with emulator(dialect, SLOW_GUARD) as fm, data_mode_modem(dialect, fm, SLOW_GUARD) as modem:
        for _ in range(4):
            peer = Recorder(tcp_server, script)
            sock, block = connect_in_data_mode(dialect, modem, peer.port)
            sock.sendall(b"go\n")
            got = read_exactly(sock, 200)
            block.__exit__(None, None, None)  # the answers keep coming meanwhile
            if dialect == "quectel":
                got += read_exactly(sock, 3000)  # by command now
                assert got == stream[:len(got)]
            else:
                while True:
                    piece = sock.read(4096)
                    if not piece:
                        break
                    got += piece
                assert got == stream[:len(got)]  # what came before the link closed, exactly
            sock.close()
            check = modem.socket()  # the module is in command mode, multi-connection on ESP
            check.connect(("127.0.0.1", peer.port))
            check.close()
        assert modem.at("AT").ok


# --- 3. "+++" in the payload ------------------------------------------------------------------------------
@pytest.mark.parametrize("dialect,options", [("quectel", {}), ("esp8285", {}), ("esp8285", {"firmware": "2.2"}),
                                             ("esp8285", {"escape_rule": "window"})])
def test_plus_signs_in_the_payload_never_escape_the_module(dialect, options, echo_server):
    """Runs of "+" alone between pauses of the guard time: each would leave data mode if written
    as it came; the bytes after them would then run as commands."""
    pieces = [b"+++", COMMANDS[dialect], b"+", b"++", b"ATE1\r\n", b"++", b"+", COMMANDS[dialect], b"+++"]
    pauses = [1.5, 1.5, 1.5, 0.3, 1.5, 1.5, 0.3, 1.5, 1.5]
    with emulator(dialect, **options) as fm, data_mode_modem(dialect, fm) as modem:
        sock, block = connect_in_data_mode(dialect, modem, echo_server.port)
        before = len(fm.received_commands)
        for piece, pause in zip(pieces, pauses):
            time.sleep(GUARD * pause)
            sock.sendall(piece)
        time.sleep(GUARD * 3)  # the line quiet after a payload that ends in "+++"
        assert read_exactly(sock, len(b"".join(pieces))) == b"".join(pieces)
        assert commands_since(fm, before) == []  # nothing left data mode, nothing ran
        assert fm.module.data_mode
        block.__exit__(None, None, None)
        assert modem.at("AT").ok
        sock.close()


# --- 5. a refused or nested block, an exception or Ctrl-C inside one ------------------------------------
@pytest.mark.parametrize("dialect", ["quectel", "esp8285"])
def test_a_refused_data_mode_leaves_the_socket_as_it_was(dialect, echo_server):
    with emulator(dialect) as fm, data_mode_modem(dialect, fm) as modem:
        connected = None
        if dialect == "quectel":  # a connected socket that asks while another one has the line
            connected = modem.socket()
            connected.settimeout(20)
            connected.connect(("127.0.0.1", echo_server.port))
        holder, block = connect_in_data_mode(dialect, modem, echo_server.port)
        fresh = modem.socket()
        fresh.settimeout(5)
        with pytest.raises(OSError) as refused:
            with fresh.data_mode():
                fresh.connect(("127.0.0.1", echo_server.port))
        assert refused.value.args[0] == errno.EBUSY
        assert fresh._conn.data_session is None  # no session that never started
        with pytest.raises(OSError) as info:
            fresh.send(b"x")  # at once: it is not connected
        assert info.value.args[0] == errno.ENOTCONN
        if connected is not None:
            with pytest.raises(OSError) as refused:
                connected.data_mode().__enter__()
            assert refused.value.args[0] == errno.EBUSY and connected._conn.data_session is None
            connected.settimeout(0.5)
            with pytest.raises(OSError) as info:
                connected.recv(10)  # an ordinary socket: nothing came, its time-out holds
            assert info.value.args[0] == errno.ETIMEDOUT
        holder.sendall(b"still carrying")
        assert read_exactly(holder, 14) == b"still carrying"
        block.__exit__(None, None, None)
        if connected is not None:  # the line is free: the refused socket works as before
            connected.settimeout(20)
            connected.sendall(b"mine")
            assert read_exactly(connected, 4) == b"mine"
            connected.close()
        holder.close()
        fresh.close()


@pytest.mark.parametrize("dialect", ["quectel", "esp8285"])
def test_data_mode_blocks_do_not_nest(dialect, echo_server):
    with emulator(dialect) as fm, data_mode_modem(dialect, fm) as modem:
        sock, block = connect_in_data_mode(dialect, modem, echo_server.port)
        before = len(fm.received_commands)
        with pytest.raises(OSError) as nested:
            with sock.data_mode():
                pass
        assert nested.value.args[0] == errno.EALREADY
        sock.sendall(b"outer block goes on")  # the refusal changed nothing: still raw
        assert read_exactly(sock, 19) == b"outer block goes on"
        assert commands_since(fm, before) == []
        block.__exit__(None, None, None)
        sock.close()


@pytest.mark.parametrize("dialect", ["quectel", "esp8285"])
@pytest.mark.parametrize("interruption", [ValueError, KeyboardInterrupt])
def test_an_exception_inside_the_block_leaves_data_mode(dialect, interruption, echo_server):
    with emulator(dialect) as fm, data_mode_modem(dialect, fm) as modem:
        sock = modem.socket()
        sock.settimeout(20)
        if dialect == "quectel":
            sock.connect(("127.0.0.1", echo_server.port))
        with pytest.raises(interruption):
            with sock.data_mode():
                if dialect == "esp8285":
                    sock.connect(("127.0.0.1", echo_server.port))
                sock.sendall(b"echo")
                assert read_exactly(sock, 4) == b"echo"
                raise interruption()
        assert not fm.module.data_mode and sock._conn.data_session is None
        if dialect == "quectel":  # the socket goes on in command mode
            sock.sendall(b"after")
            assert read_exactly(sock, 5) == b"after"
        else:  # the connection ended with the block
            assert sock.read() == b""
        assert modem.at("AT").ok
        sock.close()


# --- a module restart in data mode ------------------------------------------------------------------------
@pytest.mark.parametrize("dialect", ["quectel", "esp8285"])
def test_a_module_restart_in_data_mode_fails_the_socket_and_the_modem_comes_back(dialect, echo_server):
    with emulator(dialect) as fm, data_mode_modem(dialect, fm) as modem:
        sock, block = connect_in_data_mode(dialect, modem, echo_server.port)
        sock.sendall(b"before")
        assert read_exactly(sock, 6) == b"before"
        before = len(fm.received_commands)
        fm.reboot()
        assert wait_until(lambda: sock._conn.data_session is None, 20)
        with pytest.raises(OSError) as info:
            sock.sendall(b"AT+CFUN=0\r\n")  # never written: the module would run it
        assert info.value.args[0] == errno.ECONNRESET
        block.__exit__(None, None, None)
        assert wait_until(lambda: modem.state == "online" and modem.recoveries >= 1, 30)
        assert "AT+CFUN=0" not in commands_since(fm, before)
        assert_a_new_socket_works(modem, echo_server.port)
        sock.close()


# --- 7. a module left in data mode by a process that died -------------------------------------------------
DEAD_PROCESS = """
import os, sys, json, atsock
port, dialect, peer, settings = sys.argv[1], sys.argv[2], int(sys.argv[3]), json.loads(sys.argv[4])
modem = atsock.open_modem(port, dialect=dialect, baudrate=int(sys.argv[5]), **settings)
sock = modem.socket()
sock.settimeout(20)
with sock.data_mode():
    sock.connect(("127.0.0.1", peer))
    sock.sendall(b"from the dead\\n")
    sock.read(6)
    os._exit(0)  # no escape, no close: the module stays in data mode
"""


def left_in_data_mode(dialect, fm, tcp_server):
    """A process enters data mode and dies; returns the peer, which records what reaches it after."""
    def script(conn, recorder):
        recorder.wait_for(b"from the dead\n")
        conn.sendall(b"hello\n")
        recorder.wait_for(b"never")  # keeps the connection open

    peer = Recorder(tcp_server, script)
    settings = dict(modem_settings(dialect), escape_guard=GUARD)
    if dialect == "esp8285":
        settings["escape_settle"] = GUARD
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    done = subprocess.run([sys.executable, "-c", DEAD_PROCESS, fm.port, dialect, str(peer.port), json.dumps(settings),
                           str(FAST_LINE)], cwd=root, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert fm.module.data_mode and peer.received() == b"from the dead\n"
    return peer


def after_the_dead(peer):
    return peer.received()[len(b"from the dead\n"):]


@pytest.mark.parametrize("dialect", ["quectel", "esp8285"])
def test_open_modem_brings_back_a_module_left_in_data_mode(dialect, tcp_server, echo_server):
    with emulator(dialect) as fm:
        peer = left_in_data_mode(dialect, fm, tcp_server)
        with data_mode_modem(dialect, fm) as modem:
            assert after_the_dead(peer) in (b"AT\r", b"AT\r\n")  # the one probe that found no answer
            assert_a_new_socket_works(modem, echo_server.port)
        assert after_the_dead(peer) in (b"AT\r", b"AT\r\n")


@pytest.mark.parametrize("probe", ["info", "ports"])
def test_the_command_line_probes_bring_back_a_module_left_in_data_mode(probe, tcp_server):
    with emulator("quectel") as fm:
        peer = left_in_data_mode("quectel", fm, tcp_server)
        if probe == "info":  # (at the rate the module was left at: the emulator's boots there)
            with BareSession(fm.port, baudrate=FAST_LINE) as session:
                assert session.identify() == "quectel"
        else:
            assert probe_port(fm.port, FAST_LINE)["answers_at"]
        assert not fm.module.data_mode
        assert after_the_dead(peer) in (b"AT\r", b"AT\r\n")


# --- a module that leaves data mode without a word ----------------------------------------------------------
def test_a_module_that_left_passthrough_silently_is_found_in_command_mode_when_the_block_ends(tcp_server,
                                                                                             echo_server):
    """(the emulator's passthrough_close="silent": the peer's close ends passthrough with no CLOSED)
    atsock cannot notice it during the block; at its end the escapes go unanswered, the module answers
    the probe after them, and the connection it no longer has ends the stream cleanly."""
    def script(conn, recorder):
        conn.sendall(b"all of it")
        recorder.wait_for(b"got it")
        conn.shutdown(socket.SHUT_RDWR)

    peer = Recorder(tcp_server, script)
    with emulator("esp8285", passthrough_close="silent") as fm, data_mode_modem("esp8285", fm) as modem:
        sock, block = connect_in_data_mode("esp8285", modem, peer.port)
        assert read_exactly(sock, 9) == b"all of it"
        sock.sendall(b"got it")
        assert wait_until(lambda: not fm.module.data_mode)
        block.__exit__(None, None, None)
        assert sock.read() == b""
        assert_a_new_socket_works(modem, echo_server.port)
        sock.close()
