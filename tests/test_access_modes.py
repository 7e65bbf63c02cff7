"""A client written here with plain pyserial (no atsock) drives each access mode end to end through
a real peer on 127.0.0.1: Quectel direct push and transparent mode, ESP-AT single-connection mode
and passthrough. What it sends must reach the peer, what the peer sends must come back intact."""
import os
import socket
import time

import pytest

from fakemodem import FakeModem

from .at_client import AtPort
from .conftest import TcpServer, UdpEcho, echo_handler

GUARD = 0.2  # seconds around "+++" (the emulator's escape_guard, shortened for the tests)


@pytest.fixture
def echo():
    server = TcpServer(echo_handler)
    yield server
    server.close()


def quectel(**options):
    fm = FakeModem("quectel", escape_guard=GUARD, **options)
    at = AtPort(fm.port)
    at.read_until(rb"SMS DONE\r\n")
    at.command("ATE0")
    assert at.command("AT+QIACT=1") == b"\r\nOK\r\n"
    return fm, at


def read_push(at, sock_id):
    """One direct-push frame: ``+QIURC: "recv",<id>,<len>`` CR LF, then <len> bytes."""
    head = at.read_until(rb'\r\n\+QIURC: "recv",%d,[0-9]+\r\n' % sock_id)
    return at.read_exact(int(head.rsplit(b",", 1)[1]))


def escape(at):
    """``+++`` between two silences of the guard time."""
    time.sleep(GUARD * 1.5)
    at.write(b"+++")
    time.sleep(GUARD * 1.5)


# --- Quectel direct push (access mode 1) -------------------------------------------------------------
def test_quectel_direct_push_tcp(echo):
    blob = os.urandom(5000)
    def source_handler(conn):
        conn.sendall(blob)
        while conn.recv(100):
            pass

    source = TcpServer(source_handler)
    fm, at = quectel()
    with fm, at:
        assert at.command(f'AT+QIOPEN=1,0,"TCP","127.0.0.1",{source.port},0,1') == b"\r\nOK\r\n"
        at.read_until(rb"\+QIOPEN: 0,0\r\n")
        got = b""
        while len(got) < len(blob):
            frame = read_push(at, 0)
            assert 1 <= len(frame) <= 1500
            got += frame
        assert got == blob
        assert at.command("AT+QISTATE=1,0").endswith(b',1,0,1,"uart1"\r\n\r\nOK\r\n')  # access mode 1
        assert at.command("AT+QIRD=0,1500") == b"\r\nERROR\r\n"  # nothing is buffered in push mode
        at.write(b"AT+QISEND=0,4\r")  # sending is the same in every mode
        at.read_until(rb"> ")
        at.write(b"ping")
        at.read_until(rb"SEND OK\r\n")
        assert at.command("AT+QICLOSE=0") == b"\r\nOK\r\n"
    source.close()


def test_quectel_direct_push_udp_service_names_the_sender():
    peer = UdpEcho(prefix=b"re:")
    fm, at = quectel()
    with fm, at:
        while True:  # a free port number, found by the host, may be another test's before the module binds it
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
                probe.bind(("127.0.0.1", 0))
                local = probe.getsockname()[1]
            at.command(f'AT+QIOPEN=1,3,"UDP SERVICE","127.0.0.1",0,{local},1')
            if at.read_until(rb"\+QIOPEN: 3,\d+\r\n").endswith(b"+QIOPEN: 3,0\r\n"):
                break
        at.write(f'AT+QISEND=3,5,"127.0.0.1",{peer.port}\r'.encode())
        at.read_until(rb"> ")
        at.write(b"hello")
        at.read_until(rb"SEND OK\r\n")
        expected = f'\r\n+QIURC: "recv",3,8,"127.0.0.1",{peer.port}\r\nre:hello'.encode()
        assert at.read_exact(len(expected)) == expected
    peer.close()


def test_quectel_switching_buffer_to_push_delivers_what_waited(echo):
    fm, at = quectel()
    with fm, at:
        at.command(f'AT+QIOPEN=1,1,"TCP","127.0.0.1",{echo.port},0,0')
        at.read_until(rb"\+QIOPEN: 1,0\r\n")
        at.write(b"AT+QISEND=1,4\r")
        at.read_until(rb"> ")
        at.write(b"wait")
        at.read_until(rb'"recv",1\r\n')
        assert at.command("AT+QISWTMD=1,1") == b"\r\nOK\r\n"
        assert read_push(at, 1) == b"wait"


# --- Quectel transparent mode (access mode 2) --------------------------------------------------------
def test_quectel_transparent_mode_escape_resume_and_no_carrier():
    peer_side = {}

    def keep(conn):
        peer_side["conn"] = conn
        echo_handler(conn)

    server = TcpServer(keep)
    fm, at = quectel()
    with fm, at:
        assert at.command(f'AT+QIOPEN=1,2,"TCP","127.0.0.1",{server.port},0,2') == b"\r\nCONNECT\r\n"
        blob = os.urandom(20_000) + b"AT\r+++OK\r\n"  # in data mode nothing is a command
        at.write(blob)
        assert at.read_exact(len(blob)) == blob
        escape(at)
        assert at.read_exact(6) == b"\r\nOK\r\n"
        assert b',0,"uart1"' in at.command("AT+QISTATE=1,2")  # now in buffer access mode
        at.write(b"AT+QISEND=2,5\r")
        at.read_until(rb"> ")
        at.write(b"after")
        at.read_until(rb'"recv",2\r\n')
        assert at.command("AT+QIRD=2,1500") == b"\r\n+QIRD: 5\r\nafter\r\n\r\nOK\r\n"
        assert at.command("ATO") == b"\r\nCONNECT\r\n"
        at.write(b"again")
        assert at.read_exact(5) == b"again"
        peer_side["conn"].shutdown(socket.SHUT_RDWR)
        assert at.read_exact(14) == b"\r\nNO CARRIER\r\n"
        assert at.command("ATO") == b"\r\nNO CARRIER\r\n"
        assert at.command("AT+QICLOSE=2") == b"\r\nOK\r\n"
    server.close()


def test_quectel_plus_signs_without_the_guard_times_are_data(echo):
    fm, at = quectel()
    with fm, at:
        assert at.command(f'AT+QIOPEN=1,0,"TCP","127.0.0.1",{echo.port},0,2') == b"\r\nCONNECT\r\n"
        at.write(b"a+++b")
        assert at.read_exact(5) == b"a+++b"
        time.sleep(GUARD * 1.5)
        at.write(b"++")  # two, then silence: data
        time.sleep(GUARD * 3)
        at.write(b"+x")
        assert at.read_exact(4) == b"+++x"
        escape(at)
        assert at.read_exact(6) == b"\r\nOK\r\n"
        assert at.command("AT+QISWTMD=0,2") == b"\r\nCONNECT\r\n"
        at.write(b"switched")
        assert at.read_exact(8) == b"switched"


def test_quectel_ato_with_nothing_to_resume_and_transparent_open_failure():
    fm, at = quectel()
    with fm, at, socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
        probe.close()
        assert at.command("ATO") == b"\r\nNO CARRIER\r\n"
        assert at.command(f'AT+QIOPEN=1,0,"TCP","127.0.0.1",{closed},0,2') == b"\r\nERROR\r\n"
        assert at.command("AT+QIGETERROR") == b"\r\n+QIGETERROR: 566,socket connect failed\r\n\r\nOK\r\n"


# --- ESP-AT single connection (AT+CIPMUX=0) --------------------------------------------------------
def esp(firmware="2.2", **options):
    fm = FakeModem("esp8285", firmware=firmware, networks={"lab": "pw"}, escape_guard=GUARD, **options)
    at = AtPort(fm.port, b"\r\n")
    at.sync()
    at.command("ATE0")
    at.command('AT+CWJAP="lab","pw"')
    return fm, at


@pytest.mark.parametrize("firmware", ["1.7", "2.2"])
def test_esp_single_connection_active_and_passive(firmware, echo):
    fm, at = esp(firmware)
    prompt = b"\r\nOK\r\n> " if firmware == "1.7" else b"\r\nOK\r\n\r\n>"
    with fm, at:
        assert at.command("AT+CIPMUX?") == b"+CIPMUX:0\r\n\r\nOK\r\n"  # the power-on mode
        assert at.command(f'AT+CIPSTART="TCP","127.0.0.1",{echo.port}') == b"CONNECT\r\n\r\nOK\r\n"
        assert at.command(f'AT+CIPSTART="TCP","127.0.0.1",{echo.port}') == b"ALREADY CONNECTED\r\n\r\nERROR\r\n"
        at.write(b"AT+CIPSEND=5\r\n")
        assert at.read_exact(len(prompt)) == prompt
        at.write(b"hello")
        assert at.read_until(rb"SEND OK\r\n") == b"\r\nRecv 5 bytes\r\n\r\nSEND OK\r\n"
        assert at.read_exact(14) == b"\r\n+IPD,5:hello"
        status = at.command("AT+CIPSTATUS")
        assert status.startswith(b"STATUS:3\r\n+CIPSTATUS:0,\"TCP\",\"127.0.0.1\"")
        assert at.command("AT+CIPRECVMODE=1") == b"\r\nOK\r\n"
        at.write(b"AT+CIPSEND=4\r\n")
        at.read_until(rb">")
        at.write(b"data")
        at.read_until(rb"SEND OK\r\n")
        assert at.read_exact(10) == b"\r\n+IPD,4\r\n"  # passive: a notice without the id
        assert at.command("AT+CIPRECVDATA=4").endswith(b"data\r\nOK\r\n")


@pytest.mark.parametrize("firmware", ["1.7", "2.2"])
def test_esp_single_connection_passive_reads_and_close(firmware):
    peer = {}

    def serve(conn):
        peer["conn"] = conn
        conn.sendall(b"0123456789")
        conn.recv(1)

    server = TcpServer(serve)
    fm, at = esp(firmware)
    with fm, at:
        assert at.command("AT+CIPRECVMODE=1") == b"\r\nOK\r\n"
        assert at.command(f'AT+CIPSTART="TCP","127.0.0.1",{server.port}') == b"CONNECT\r\n\r\nOK\r\n"
        assert at.read_exact(11) == b"\r\n+IPD,10\r\n"
        answer = at.command("AT+CIPRECVDATA=6")
        assert answer == (b"+CIPRECVDATA:6,012345\r\nOK\r\n" if firmware == "2.2"
                          else b"\r\n+CIPRECVDATA,6:012345\r\nOK\r\n")
        peer["conn"].shutdown(socket.SHUT_RDWR)
        time.sleep(0.2)
        assert at.read_quiet(0.1) == b""  # CLOSED waits until everything was read
        answer = at.command("AT+CIPRECVDATA=6")
        assert answer.endswith(b"6789\r\nOK\r\n")
        assert at.read_until(rb"CLOSED\r\n") == b"CLOSED\r\n"
        assert at.command("AT+CIPCLOSE").endswith(b"\r\nERROR\r\n")  # nothing left to close
    server.close()


def test_esp_cipclose_forms_follow_the_mux_mode(echo):
    fm, at = esp()
    with fm, at:
        at.command(f'AT+CIPSTART="TCP","127.0.0.1",{echo.port}')
        assert at.command("AT+CIPCLOSE=0") == b"\r\nERROR\r\n"  # single mode: no id
        assert at.command("AT+CIPCLOSE") == b"CLOSED\r\n\r\nOK\r\n"
        assert at.command("AT+CIPMUX=1") == b"\r\nOK\r\n"
        at.command(f'AT+CIPSTART=3,"TCP","127.0.0.1",{echo.port}')
        assert at.command("AT+CIPCLOSE") == b"\r\nERROR\r\n"  # multiple: an id is needed
        assert at.command("AT+CIPCLOSE=3") == b"3,CLOSED\r\n\r\nOK\r\n"


# --- ESP-AT passthrough (AT+CIPMODE=1) -------------------------------------------------------------------
@pytest.mark.parametrize("firmware", ["1.7", "2.2"])
def test_esp_passthrough_both_ways_then_plus_plus_plus(firmware, echo):
    fm, at = esp(firmware)
    with fm, at:
        assert at.command("AT+CIPMUX=1") == b"\r\nOK\r\n"
        assert at.command("AT+CIPMODE=1").endswith(b"\r\nERROR\r\n")  # passthrough needs CIPMUX=0
        at.command("AT+CIPMUX=0")
        assert at.command("AT+CIPMODE=1") == b"\r\nOK\r\n"
        assert at.command(f'AT+CIPSTART="TCP","127.0.0.1",{echo.port}') == b"CONNECT\r\n\r\nOK\r\n"
        assert at.command("AT+CIPSEND=5").endswith(b"\r\nERROR\r\n")  # no counted sends in passthrough
        at.write(b"AT+CIPSEND\r\n")
        assert at.read_exact(9) == b"\r\nOK\r\n\r\n>"
        blob = os.urandom(30_000)
        at.write(blob)
        assert at.read_exact(len(blob)) == blob
        escape(at)
        assert at.read_quiet(0.1) == b""  # leaving passthrough prints nothing
        assert at.command("AT") == b"\r\nOK\r\n"
        assert at.command("AT+CIPMODE=0") == b"\r\nOK\r\n"
        at.write(b"AT+CIPSEND=4\r\n")
        at.read_until(rb">")
        at.write(b"back")
        at.read_until(rb"SEND OK\r\n")
        assert at.read_exact(13) == b"\r\n+IPD,4:back"


def test_esp_passthrough_ends_with_closed_when_the_peer_goes():
    peer = {}

    def serve(conn):
        peer["conn"] = conn
        echo_handler(conn)

    server = TcpServer(serve)
    fm, at = esp()
    with fm, at:
        at.command("AT+CIPMODE=1")
        at.command(f'AT+CIPSTART="TCP","127.0.0.1",{server.port}')
        at.write(b"AT+CIPSEND\r\n")
        at.read_until(rb">")
        at.write(b"x")
        assert at.read_exact(1) == b"x"
        peer["conn"].shutdown(socket.SHUT_RDWR)
        assert at.read_until(rb"CLOSED\r\n") == b"CLOSED\r\n"
        assert at.command("AT") == b"\r\nOK\r\n"
    server.close()


def test_esp_cipsendex_stops_at_backslash_zero_and_unescapes(echo):
    fm, at = esp()
    with fm, at:
        at.command(f'AT+CIPSTART="TCP","127.0.0.1",{echo.port}')
        at.write(b"AT+CIPSENDEX=40\r\n")
        at.read_until(rb">")
        at.write(rb"ab\\0c\,d\0")  # \\0 sends a backslash and a zero; \, sends a comma; \0 ends
        assert at.read_until(rb"SEND OK\r\n") == b"\r\nRecv 11 bytes\r\n\r\nSEND OK\r\n"
        assert at.read_exact(16) == b"\r\n+IPD,7:ab\\0c,d"
