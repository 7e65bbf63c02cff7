"""The emulator's AT+CMUX, driven by hand-made frames (the driver's codec checks them: two codecs
written apart must agree on the wire). What cmux.md states, and each switch of what it leaves open."""
import re
import socket
import time

import pytest
import serial

from atsock.wire.cmux.control import Message, Parameters, Signals, Type, decode, msc
from atsock.wire.cmux.frames import Frame, FrameReader, Kind, encode
from fakemodem import FakeModem

from .conftest import emulator_options

CMUX = b"AT+CMUX=0,0,5,127,10,3,30,10,2\r"
PATIENCE = 10.0  # seconds an expected answer may take on a loaded machine
FINAL = re.compile(rb"\r\n(OK|ERROR|CONNECT|NO CARRIER|\+CME ERROR: [^\r]*)\r\n")


def on(frames, dlci) -> bytes:
    return b"".join(f.info for f in frames if f.dlci == dlci)


class Client:
    """A host that speaks frames to the emulator: each call writes and returns what came back."""

    def __init__(self, fm):
        self.port = serial.Serial(fm.port, 115200, timeout=0.05)  # the module's boot rate
        assert self.ready()  # booted
        self.reader = FrameReader()

    def ready(self) -> bool:
        """Plain AT answered OK (again: whatever garbage the module's line buffer held is gone)."""
        for _ in range(40):
            self.port.write(b"AT\r")
            if b"OK" in self.port.read_until(b"OK\r\n"):
                return True
        return False

    def plain(self, line: bytes) -> bytes:
        """A command on the plain UART; what came back up to its final result."""
        self.port.write(line)
        got, deadline = b"", time.monotonic() + PATIENCE
        while not FINAL.search(got) and time.monotonic() < deadline:
            got += self.port.read(4096)
        return got

    def send(self, *frames: Frame, until=lambda got: len(got) >= 1, wait: float = 0.15):
        """Write ``frames``; the frames that came back once ``until(frames so far)`` holds (at most
        ``PATIENCE`` s), or with ``until`` None, those that came within ``wait`` (nothing expected)."""
        self.port.write(b"".join(encode(f) for f in frames))
        got, deadline = [], time.monotonic() + (wait if until is None else PATIENCE)
        while time.monotonic() < deadline and (until is None or not until(got)):
            got += self.reader.feed(self.port.read(4096))
        return got

    def quiet(self, *frames: Frame, wait: float = 0.15):
        """What came back within ``wait`` (where nothing should)."""
        return self.send(*frames, until=None, wait=wait)

    def text(self, dlci: int, line: bytes) -> bytes:
        """The command ``line`` on ``dlci``; what came back on it up to its final result."""
        frames = self.send(Frame(dlci, Kind.UIH, line), until=lambda got: FINAL.search(on(got, dlci)))
        return on(frames, dlci)

    def opened(self, sock_id: int, port: int) -> bytes:
        """AT+QIOPEN on DLCI 1 to 127.0.0.1:``port``: its answer and the ``+QIOPEN`` notice after it."""
        answer = self.text(1, b'AT+QIOPEN=1,%d,"TCP","127.0.0.1",%d,0,0\r' % (sock_id, port))
        if b"+QIOPEN:" not in answer:
            answer += on(self.send(until=lambda got: b"+QIOPEN:" in on(got, 1)), 1)
        return answer

    def multiplex(self, *dlcis: int):
        assert b"OK" in self.plain(CMUX)
        time.sleep(0.05)
        for dlci in (0,) + dlcis:
            assert self.send(Frame(dlci, Kind.SABM, pf=True)) == [Frame(dlci, Kind.UA, cr=True, pf=True)]

    def close(self):
        self.port.close()


@pytest.fixture
def client_for():
    made = []

    def make(module=None, **cmux):
        fm = FakeModem("quectel", cmux=cmux, **emulator_options("quectel"), **(module or {}))
        client = Client(fm)
        made.append((fm, client))
        return fm, client

    yield make
    for fm, client in made:
        client.close()
        fm.close()


def control(message: Message) -> Frame:
    return Frame(0, Kind.UIH, message.encode())


def answers(frames):
    return [m for f in frames if f.dlci == 0 and f.kind is Kind.UIH for m in decode(f.info)]


def test_at_cmux_forms_and_its_parameters(client_for):
    fm, c = client_for()
    assert b"+CMUX: (0),(0),(1-8),(1-32768),(1-255),(0-100),(2-255),(1-255),(1-7)" in c.plain(b"AT+CMUX=?\r")
    assert b"+CMUX: 0,0,5,127,10,3,30,10,2" in c.plain(b"AT+CMUX?\r")
    for refused in (b"AT+CMUX=1\r", b"AT+CMUX=0,1\r", b"AT+CMUX=0,0,9\r", b"AT+CMUX=0,0,5,0\r", b"AT+CMUX\r"):
        assert b"ERROR" in c.plain(refused), refused  # advanced option, error recovery, no such speed...
    assert b"\r\nOK\r\n" in c.plain(b"AT+CMUX=0\r")  # the rest from defaults (N1 127, as the M10 manual)
    time.sleep(0.05)
    assert c.send(Frame(0, Kind.SABM, pf=True)) == [Frame(0, Kind.UA, cr=True, pf=True)]
    assert c.send(Frame(1, Kind.SABM, pf=True)) == [Frame(1, Kind.UA, cr=True, pf=True)]
    assert b"+CMUX: 0,0,5,127,10,3,30,10,2" in c.text(1, b"AT+CMUX?\r")
    assert b"ERROR" in c.text(1, b"AT+CMUX=0\r")  # not while multiplexing


def test_channels_answer_as_the_uart_does_and_frames_are_the_references(client_for):
    fm, c = client_for()
    c.multiplex(1, 2)
    frames = c.send(Frame(1, Kind.UIH, b"AT+CPIN?\r"))
    assert b"".join(f.info for f in frames) == b"AT+CPIN?\r\r\n+CPIN: READY\r\n\r\nOK\r\n"  # echo on at power-up
    # cmux.md §6: the answer's frame byte for byte
    assert encode(frames[-1]) == bytes.fromhex("F9 05 EF 2D 0D 0A 2B 43 50 49 4E 3A 20 52 45 41 44 59 0D 0A 0D 0A"
                                               "4F 4B 0D 0A 67 F9")
    assert all(f.dlci == 1 and not f.cr for f in frames)
    assert c.text(2, b"ATI\r").endswith(b"OK\r\n")
    assert c.send(Frame(5, Kind.SABM, pf=True)) == [Frame(5, Kind.DM, cr=True, pf=True)]  # not offered
    assert c.send(Frame(3, Kind.UIH, b"AT\r")) == [Frame(3, Kind.DM, cr=True, pf=True)]  # not open


def test_notices_go_where_urcport_says(client_for):
    fm, c = client_for()
    c.multiplex(1, 2)
    assert b'+QCFG: "cmux/urcport",1' in c.text(1, b'AT+QCFG="cmux/urcport"\r')
    c.text(1, b"AT+CEREG=1\r")
    fm.lose_registration(0.05)  # two +CEREG URCs: lost, then back
    frames = c.send(until=lambda got: b"".join(f.info for f in got).count(b"+CEREG") >= 2)
    assert [f.dlci for f in frames] and {f.dlci for f in frames} == {1}
    c.text(1, b'AT+QCFG="cmux/urcport",0\r')
    c.text(2, b"AT+CEREG=1\r")
    fm.lose_registration(0.05)
    frames = c.send(until=lambda got: b"".join(f.info for f in got).count(b"+CEREG") >= 4)
    assert {f.dlci for f in frames} == {1, 2}  # copied to every port


def test_control_channel_commands_are_answered(client_for):
    fm, c = client_for()
    c.multiplex(1)
    assert answers(c.send(control(Message(Type.TEST, True, b"ABCD")))) == [Message(Type.TEST, False, b"ABCD")]
    pn = answers(c.send(control(Message(Type.PN, True, Parameters(2, 127).value()))))
    assert pn == [Message(Type.NSC, False, b"\x83")]
    assert answers(c.send(control(Message(Type.PSC, True)))) == [Message(Type.PSC, False)]
    assert answers(c.send(control(Message(0x3F, True)))) == [Message(Type.NSC, False, b"\xff")]


def test_the_host_stops_and_restarts_a_channel(client_for):
    fm, c = client_for()
    c.multiplex(1)
    assert answers(c.send(control(msc(1, Signals(fc=True))))) == [msc(1, Signals(fc=True)).answer()]
    assert on(c.quiet(Frame(1, Kind.UIH, b"AT\r")), 1) == b""  # held while stopped
    frames = c.send(control(msc(1, Signals())), until=lambda got: b"OK" in on(got, 1))
    assert b"OK" in b"".join(f.info for f in frames if f.dlci == 1)
    c.send(control(Message(Type.FCOFF, True)))
    assert on(c.quiet(Frame(1, Kind.UIH, b"AT\r")), 1) == b""
    frames = c.send(control(Message(Type.FCON, True)), until=lambda got: b"OK" in on(got, 1))
    assert b"OK" in b"".join(f.info for f in frames if f.dlci == 1)


def test_close_down_and_back_to_plain_at(client_for):
    fm, c = client_for()
    c.multiplex(1)
    frames = c.send(control(Message(Type.CLD, True)))
    assert frames == [Frame(0, Kind.UIH, b"\xc1\x01", cr=False)]  # the C/R rule's address (0x01)
    assert b"OK" in c.plain(b"AT\r")


@pytest.mark.parametrize("switch,check", [
    ({"cld_address": "copy"}, lambda frames: frames == [Frame(0, Kind.UIH, b"\xc1\x01", cr=True)]),
    ({"uih_poll": True}, lambda frames: frames[0].pf),
])
def test_switches_of_the_close_down(client_for, switch, check):
    fm, c = client_for(**switch)
    c.multiplex(1)
    assert check(c.send(control(Message(Type.CLD, True))))


def test_switches_of_the_frames(client_for):
    fm, c = client_for(long_length=True, msc_after_ua=True, unknown_channel="silent", closed_channel="silent")
    assert b"OK" in c.plain(CMUX)
    time.sleep(0.05)
    assert c.send(Frame(0, Kind.SABM, pf=True)) == [Frame(0, Kind.UA, cr=True, pf=True)]
    frames = c.send(Frame(1, Kind.SABM, pf=True), until=lambda got: len(got) >= 2)
    assert frames[0] == Frame(1, Kind.UA, cr=True, pf=True)
    assert answers(frames[1:]) == [msc(1, Signals(dv=False))]  # its MSC after the UA (RTC, RTR)
    c.port.write(encode(Frame(1, Kind.UIH, b"AT\r")))
    time.sleep(0.15)
    raw = c.port.read(4096)
    assert raw[:3] == bytes([0xF9, 0x05, 0xEF]) and raw[3] == 3 << 1 and raw[4] == 0  # "AT\r" echoed, length in two octets
    assert c.quiet(Frame(7, Kind.SABM, pf=True)) == [] and c.quiet(Frame(3, Kind.UIH, b"x")) == []


def test_an_early_frame_can_deadlock_the_multiplexer(client_for):
    fm, c = client_for(entry_delay=0.2, early_frame="deadlock")
    c.port.write(CMUX)
    c.port.read_until(b"OK\r\n")
    assert c.quiet(Frame(0, Kind.SABM, pf=True), wait=0.05) == []
    time.sleep(0.3)
    assert c.quiet(Frame(0, Kind.SABM, pf=True)) == []  # deaf until it restarts


def test_settings_per_channel(client_for):
    for scope, echoed in (("module", False), ("channel", True)):
        fm, c = client_for(settings_scope=scope)
        c.multiplex(1, 2)
        c.text(1, b"ATE0\r")
        assert c.text(2, b"AT\r").startswith(b"AT\r") is echoed, scope


def test_a_restart_leaves_the_multiplexer(client_for):
    fm, c = client_for()
    c.multiplex(1)
    fm.reboot()
    deadline = time.monotonic() + PATIENCE
    while fm.call(lambda: fm.module.cmux.session is not None) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert fm.call(lambda: fm.module.cmux.session is None)
    assert c.ready()


def test_bad_frames_are_dropped(client_for):
    fm, c = client_for()
    c.multiplex(1)
    good = bytearray(encode(Frame(1, Kind.UIH, b"AT\r")))
    bad = bytes(good[:-2]) + bytes([good[-2] ^ 0xFF, 0xF9])
    c.port.write(bad)
    assert c.quiet() == []
    assert fm.call(lambda: fm.module.cmux.session.parser.bad_checksum) == 1
    assert b"OK" in c.text(1, b"AT\r")


# --- transparent mode on a channel ------------------------------------------------------------------
GUARD = 0.2  # the module's escape_guard here
QUICK = {"escape_guard": GUARD, "latency": 0.0}


@pytest.fixture
def transparent_for(client_for, echo_server):
    """A client with DLCI 1 (commands), 2 and 3 open, connectIDs 0 and 1 to the echo peer."""
    def make(module=None, **cmux):
        fm, c = client_for(module=module, **cmux)
        c.multiplex(1, 2, 3)
        assert c.text(1, b"ATE0\r").endswith(b"OK\r\n")
        assert b"OK" in c.text(1, b"AT+QIACT=1\r")
        for sock_id in (0, 1):
            assert b"+QIOPEN: %d,0" % sock_id in c.opened(sock_id, echo_server.port)
        c.text(1, b'AT+QICFG="transwaittm",0\r')  # data goes on at once
        return fm, c
    return make



def test_a_channel_in_transparent_mode_while_another_takes_commands(transparent_for):
    fm, c = transparent_for()
    assert c.text(2, b"AT+QISWTMD=0,2\r").endswith(b"CONNECT\r\n")
    echoed = c.send(Frame(2, Kind.UIH, b"hello"), until=lambda got: len(on(got, 2)) >= 5)
    assert on(echoed, 2) == b"hello"  # the peer's echo, raw (after transwaittm)
    assert c.text(1, b"AT+CSQ\r").startswith(b"\r\n+CSQ: ")          # commands go on beside it
    time.sleep(1.1)
    frames = c.send(Frame(2, Kind.UIH, b"+++"), until=lambda got: FINAL.search(on(got, 2)))
    assert on(frames, 2) == b"\r\nOK\r\n"  # the escape, with its guard times counted on DLCI 2
    assert b'+QISTATE: 0,"TCP"' in c.text(1, b"AT+QISTATE=1,0\r")


def escape(c, dlci, guard, before=b""):
    """``+++`` on ``dlci`` between two guard silences (with ``before`` sent on DLCI 1 in the first)."""
    time.sleep(guard * 1.2)
    if before:
        c.port.write(encode(Frame(1, Kind.UIH, before)))
    time.sleep(guard * 0.3)
    return on(c.send(Frame(dlci, Kind.UIH, b"+++"), until=lambda got: len(on(got, dlci)) >= 3), dlci)


def test_two_channels_in_transparent_mode_at_once(transparent_for):
    fm, c = transparent_for(module=QUICK)
    assert c.text(2, b"AT+QISWTMD=0,2\r").endswith(b"CONNECT\r\n")
    assert c.text(3, b"AT+QISWTMD=1,2\r").endswith(b"CONNECT\r\n")
    frames = c.send(Frame(2, Kind.UIH, b"two"), Frame(3, Kind.UIH, b"three"),
                    until=lambda got: len(on(got, 2)) >= 3 and len(on(got, 3)) >= 5)
    assert on(frames, 2) == b"two" and on(frames, 3) == b"three"
    assert escape(c, 2, GUARD) == b"\r\nOK\r\n"
    still = c.send(Frame(3, Kind.UIH, b"still"), until=lambda got: len(on(got, 3)) >= 5)
    assert on(still, 3) == b"still"  # DLCI 3 carries on
    assert escape(c, 3, GUARD) == b"\r\nOK\r\n"


@pytest.mark.parametrize("scope,escaped", [("channel", True), ("line", False)])
def test_the_escape_guard_per_channel_or_per_line(transparent_for, scope, escaped):
    fm, c = transparent_for(module=QUICK, escape_scope=scope)
    assert c.text(2, b"AT+QISWTMD=0,2\r").endswith(b"CONNECT\r\n")
    answer = escape(c, 2, GUARD, before=b"AT\r")  # a command on DLCI 1 within DLCI 2's guard time
    assert (answer == b"\r\nOK\r\n") is escaped
    if not escaped:
        assert answer == b"+++"  # the module took it for data: the peer echoed it


def test_virtual_dtr(transparent_for):
    fm, c = transparent_for(module=QUICK, virtual_dtr=True)
    assert c.text(2, b"AT+QISWTMD=0,2\r").endswith(b"CONNECT\r\n")
    frames = c.send(control(msc(2, Signals(rtc=False))), until=lambda got: FINAL.search(on(got, 2)))
    assert on(frames, 2) == b"\r\nOK\r\n"  # RTC clear: DTR dropped, command mode


def test_a_channel_closed_in_transparent_mode_leaves_its_socket_in_buffer_mode(transparent_for):
    fm, c = transparent_for(module=QUICK)
    assert c.text(2, b"AT+QISWTMD=0,2\r").endswith(b"CONNECT\r\n")
    assert c.send(Frame(2, Kind.DISC, pf=True)) == [Frame(2, Kind.UA, cr=True, pf=True)]
    assert b'+QISTATE: 0,"TCP","127.0.0.1"' in c.text(1, b"AT+QISTATE=1,0\r")
    state = c.text(1, b"AT+QISTATE=1,0\r").split(b",")
    assert state[8] == b"0"  # access mode: buffer


@pytest.mark.parametrize("brake,stop,go", [
    ("msc", msc(2, Signals(fc=True, dv=False)), msc(2, Signals(dv=False))),
    ("fcoff", Message(Type.FCOFF, True), Message(Type.FCON, True)),
])
def test_the_module_brakes_the_host_while_a_peer_is_slow(client_for, brake, stop, go):
    peer = socket.socket()
    peer.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2048)  # a small window, never read from
    peer.bind(("127.0.0.1", 0))
    peer.listen(1)
    fm, c = client_for(module=QUICK, flow_control=brake)
    c.multiplex(1, 2)
    c.text(1, b"ATE0\r")
    c.text(1, b"AT+QIACT=1\r")
    assert b"+QIOPEN: 0,0" in c.opened(0, peer.getsockname()[1])
    conn, _ = peer.accept()
    assert c.text(2, b"AT+QISWTMD=0,2\r").endswith(b"CONNECT\r\n")
    chunk = Frame(2, Kind.UIH, bytes(127))
    braked = []
    for _ in range(400):  # until the module's buffer toward the peer passes its mark
        braked = [m for m in answers(c.quiet(*[chunk] * 64, wait=0.02)) if m.command]
        if braked:
            break
    assert braked[0] == stop
    conn.setblocking(False)
    released = []
    for _ in range(200):  # the peer reads everything: the brake comes off
        try:
            while conn.recv(65536):
                pass
        except BlockingIOError:
            pass
        released = [m for m in answers(c.quiet(wait=0.02)) if m.command]
        if released:
            break
    conn.close()
    peer.close()
    assert released == [go]


@pytest.mark.parametrize("order", ["turns", "fifo"])
def test_a_channels_answer_waits_behind_a_frame_of_each_busy_channel_or_behind_all(client_for, order):
    """output_order: the ports' frames take the paced UART in turns (an answer on DLCI 1 goes
    behind about 50 ms of the line and a frame of DLCI 2), or in the order written (behind all)."""
    fm, c = client_for(module={"baudrate": 115200}, output_order=order)
    c.multiplex(1, 2)
    burst = 20000

    def write():
        session = fm.module.cmux.session
        session.send(2, bytes(burst))
        session.send(1, b"\r\nOK\r\n")
    fm.call(write)
    frames = c.send(until=lambda got: on(got, 1) and len(on(got, 2)) == burst)
    before = len(on(frames[:next(i for i, f in enumerate(frames) if f.dlci == 1)], 2))
    assert before <= 2048 if order == "turns" else before == burst
