"""The sans-I/O multiplexer: the reference's frames byte for byte, the same frames however the stream
is cut, bad frames dropped and counted, and the host's dialogue with a module (cmux.md §5–§15)."""
import pytest

from atsock.wire.cmux.control import Message, Parameters, Signals, Type, decode, msc
from atsock.wire.cmux.frames import FCS_TABLE, Frame, FrameReader, Kind, encode, fcs
from atsock.wire.cmux.mux import (Answered, Closed, ClosedDown, Data, FlowChanged, Multiplexer, MuxError, NotSupported,
                                  Opened, Refused, State, StatusReceived)


def h(text):
    return bytes.fromhex(text)


# cmux.md §6: (frame, bytes on the wire) for every frame of the catalogue with a fixed FCS
CATALOGUE = [
    (Frame(0, Kind.SABM, pf=True), "F9 03 3F 01 1C F9"),
    (Frame(0, Kind.UA, cr=True, pf=True), "F9 03 73 01 D7 F9"),
    (Frame(1, Kind.SABM, pf=True), "F9 07 3F 01 DE F9"),
    (Frame(1, Kind.UA, cr=True, pf=True), "F9 07 73 01 15 F9"),
    (Frame(2, Kind.SABM, pf=True), "F9 0B 3F 01 59 F9"),
    (Frame(2, Kind.UA, cr=True, pf=True), "F9 0B 73 01 92 F9"),
    (Frame(1, Kind.DISC, pf=True), "F9 07 53 01 3F F9"),
    (Frame(2, Kind.DISC, pf=True), "F9 0B 53 01 B8 F9"),
    (Frame(0, Kind.DISC, pf=True), "F9 03 53 01 FD F9"),
    (Frame(3, Kind.DM, cr=True, pf=True), "F9 0F 1F 01 B1 F9"),
    (Frame(1, Kind.UIH, b"AT\r"), "F9 07 EF 07 41 54 0D D3 F9"),
    (Frame(1, Kind.UIH, b"AT+CPIN?\r"), "F9 07 EF 13 41 54 2B 43 50 49 4E 3F 0D C8 F9"),
    (Frame(1, Kind.UIH, b"\r\n+CPIN: READY\r\n\r\nOK\r\n", cr=False),
     "F9 05 EF 2D 0D 0A 2B 43 50 49 4E 3A 20 52 45 41 44 59 0D 0A 0D 0A 4F 4B 0D 0A 67 F9"),
    (Frame(1, Kind.UIH, b"\r\nOK\r\n", cr=False), "F9 05 EF 0D 0D 0A 4F 4B 0D 0A 5F F9"),
    (Frame(1, Kind.UIH, b"\r\nOK\r\n", cr=False, pf=True), "F9 05 FF 0D 0D 0A 4F 4B 0D 0A 4A F9"),
    (Frame(1, Kind.UI, b"AT\r"), "F9 07 03 07 41 54 0D 44 F9"),
    (Frame(0, Kind.UIH, h("C3 01")), "F9 03 EF 05 C3 01 F2 F9"),
    (Frame(0, Kind.UIH, h("C1 01")), "F9 03 EF 05 C1 01 F2 F9"),
    (Frame(0, Kind.UIH, h("C1 01"), cr=False), "F9 01 EF 05 C1 01 93 F9"),
    (Frame(0, Kind.UIH, h("E3 05 07 8D")), "F9 03 EF 09 E3 05 07 8D FB F9"),
    (Frame(0, Kind.UIH, h("E3 05 07 0D"), cr=False), "F9 01 EF 09 E3 05 07 0D 9A F9"),
    (Frame(0, Kind.UIH, h("A3 01"), cr=False, pf=True), "F9 01 FF 05 A3 01 86 F9"),
    (Frame(0, Kind.UIH, h("23 09 41 42 43 44")), "F9 03 EF 0D 23 09 41 42 43 44 FC F9"),
    (Frame(0, Kind.UIH, h("21 09 41 42 43 44"), cr=False), "F9 01 EF 0D 21 09 41 42 43 44 9D F9"),
    (Frame(0, Kind.UIH, h("83 11 02 00 00 0A 7F 00 03 02")), "F9 03 EF 15 83 11 02 00 00 0A 7F 00 03 02 EE F9"),
    (Frame(0, Kind.UIH, h("11 03 83"), cr=False), "F9 01 EF 07 11 03 83 70 F9"),
]


@pytest.mark.parametrize("frame,wire", CATALOGUE)
def test_frames_are_the_references_bytes(frame, wire):
    assert encode(frame) == h(wire)
    reader = FrameReader()
    assert reader.feed(h(wire)) == [frame]


def test_fcs_worked_examples():
    assert fcs(h("05 EF 0D")) == 0x5F          # §5.1: UIH covers the header only
    assert fcs(h("03 3F 01")) == 0x1C          # §5.2
    assert fcs(h("0B EF 90 01")) == 0xB5       # §5.3: a two-octet length
    assert FCS_TABLE[:8] == h("00 91 E3 72 07 96 E4 75") and FCS_TABLE[0xFF] == 0xCF


def test_long_frames_have_a_two_octet_length():
    data = bytes(range(200))
    wire = encode(Frame(2, Kind.UIH, data))
    assert wire[:5] == h("F9 0B EF 90 01") and wire[-2:] == h("B5 F9")
    assert FrameReader(n1=256).feed(wire) == [Frame(2, Kind.UIH, data)]


STREAM = b"".join(h(wire) for _, wire in CATALOGUE)
FRAMES = [frame for frame, _ in CATALOGUE]


def test_same_frames_whole_and_byte_by_byte():
    whole = FrameReader()
    assert whole.feed(STREAM) == FRAMES
    single = FrameReader()
    frames = []
    for i in range(len(STREAM)):
        frames += single.feed(STREAM[i:i + 1])
    assert frames == FRAMES
    assert whole.stats == single.stats


def test_frames_sharing_one_flag_and_runs_of_flags():
    shared = h("F9 03 73 01 D7") + h("F9 07 73 01 15 F9")
    assert [f.dlci for f in FrameReader().feed(shared)] == [0, 1]
    padded = h("F9 F9 F9 F9 03 73 01 D7 F9 F9 F9")
    reader = FrameReader()
    assert reader.feed(padded) == [Frame(0, Kind.UA, cr=True, pf=True)]
    assert reader.stats.dropped == 0 and reader.stats.fill_flags >= 3


def test_bad_frames_are_dropped_and_counted_and_the_next_one_found():
    good = h("F9 05 EF 0D 0D 0A 4F 4B 0D 0A 5F F9")
    bad_fcs = good[:-2] + b"\x00\xf9"
    no_closing_flag = good[:-1] + b"\x00"
    unknown_control = h("F9 05 AA 01 00 F9")
    no_ea = h("F9 04 EF 01 00 F9")
    too_long = encode(Frame(1, Kind.UIH, b"x" * 200))
    noise = b"\r\nRDY\r\n"
    reader = FrameReader()
    frames = reader.feed(noise + bad_fcs + no_closing_flag + unknown_control + no_ea + too_long + good)
    assert frames[-1] == Frame(1, Kind.UIH, b"\r\nOK\r\n", cr=False)
    stats = reader.stats
    assert stats.bad_fcs >= 1 and stats.unterminated >= 1 and stats.bad_header >= 2 and stats.too_long >= 1
    assert stats.noise_bytes >= len(noise) and b"RDY" in stats.recent_noise


def test_a_corrupted_data_octet_of_a_ui_frame_fails_its_fcs():
    wire = bytearray(encode(Frame(1, Kind.UI, b"AT\r")))
    wire[5] ^= 0x01
    reader = FrameReader()
    assert reader.feed(bytes(wire)) == [] and reader.stats.bad_fcs == 1


def test_memory_stays_bounded_by_one_frame():
    reader = FrameReader()
    reader.feed(h("F9 05 EF FF"))  # announces 127 octets that never come
    for _ in range(100):
        reader.feed(b"\x00" * 50)
        assert reader.buffered <= 127 + 6


def test_control_messages_decode_and_encode():
    assert decode(h("E3 05 07 8D")) == [msc(1, Signals())]
    assert Message(Type.CLD, True).encode() == h("C3 01")
    assert decode(h("C3 01 23 05 41 42")) == [Message(Type.CLD, True), Message(Type.TEST, True, b"AB")]
    long = Message(Type.TEST, True, b"x" * 200)
    assert decode(long.encode()) == [long]
    assert Parameters.of(Parameters(2, 127).value()) == Parameters(2, 127)
    with pytest.raises(ValueError):
        decode(h("E3 09 07"))  # the value runs past the frame


# --- the host's dialogue ---------------------------------------------------------------------------
def module(*frames: Frame) -> bytes:
    """What a module sends: its frames (responder: C/R 0 on commands and data, 1 on responses)."""
    return b"".join(encode(f) for f in frames)


def ua(dlci):
    return Frame(dlci, Kind.UA, cr=True, pf=True)


def control(*messages, pf=False):
    return Frame(0, Kind.UIH, b"".join(m.encode() for m in messages), cr=False, pf=pf)


def opened(*dlcis):
    mux = Multiplexer()
    for dlci in dlcis:
        mux.open(dlci)
        assert mux.receive_data(module(ua(dlci))) == [Opened(dlci)]
    mux.data_to_send()
    return mux


def test_open_sends_sabm_and_ua_opens():
    mux = Multiplexer()
    with pytest.raises(MuxError):
        mux.open(1)  # the control channel comes first
    mux.open(0)
    assert mux.data_to_send() == h("F9 03 3F 01 1C F9")
    mux.open(0)  # unanswered: the same SABM again (the caller's T1 retry)
    assert mux.data_to_send() == h("F9 03 3F 01 1C F9")
    assert mux.receive_data(h("F9 03 73 01 D7 F9")) == [Opened(0)]
    mux.open(1)
    assert mux.data_to_send() == h("F9 07 3F 01 DE F9")
    assert mux.receive_data(h("F9 07 73 01 15 F9")) == [Opened(1)]
    assert mux.state(1) is State.OPEN


def test_a_refused_channel_is_reported():
    mux = opened(0)
    mux.open(5)
    assert mux.receive_data(module(Frame(5, Kind.DM, cr=True, pf=True))) == [Refused(5)]
    assert mux.state(5) is State.CLOSED


def test_data_is_cut_at_n1_and_reassembled_from_any_frames():
    mux = opened(0, 1)
    payload = bytes(range(256)) * 2
    mux.send(1, payload)
    wire = mux.data_to_send()
    frames = FrameReader().feed(wire)
    assert [len(f.info) for f in frames] == [127, 127, 127, 127, 4]
    assert all(f.dlci == 1 and f.kind is Kind.UIH and f.cr and not f.pf for f in frames)
    assert b"".join(f.info for f in frames) == payload
    answer = module(Frame(1, Kind.UIH, b"\r\n+CPIN: RE", cr=False), Frame(1, Kind.UIH, b"ADY\r\n", cr=False, pf=True))
    assert mux.receive_data(answer) == [Data(1, b"\r\n+CPIN: RE"), Data(1, b"ADY\r\n")]


def test_data_on_a_closed_channel_is_not_delivered():
    mux = opened(0, 1)
    assert mux.receive_data(module(Frame(2, Kind.UIH, b"stray", cr=False))) == []
    assert mux.stats.unexpected == 1
    with pytest.raises(MuxError):
        mux.send(2, b"x")


def test_module_commands_are_answered():
    mux = opened(0, 1)
    events = mux.receive_data(module(control(Message(Type.TEST, True, b"ABCD"))))
    assert events == []
    # the echo as a response; in a UIH frame, which from the initiator carries C/R 1 whatever it holds
    assert mux.data_to_send() == encode(Frame(0, Kind.UIH, h("21 09 41 42 43 44")))
    mux.receive_data(module(control(Message(Type.SNC, True, b"\x07"))))
    assert mux.data_to_send() == encode(Frame(0, Kind.UIH, h("11 03 D3")))  # NSC names the refused type
    mux.receive_data(module(control(Message(Type.PN, True, Parameters(2, 512).value()))))
    answer = decode(FrameReader().feed(mux.data_to_send())[0].info)[0]
    assert answer.type == Type.PN and not answer.command and Parameters.of(answer.value).n1 == 127


def test_msc_stops_and_restarts_one_channel():
    mux = opened(0, 1, 2)
    stop = msc(2, Signals(fc=True), command=True)
    events = mux.receive_data(module(control(stop, pf=True)))  # a BG96 sends UIH with P/F set
    assert events == [FlowChanged(2, True), StatusReceived(2, Signals(fc=True))]
    assert FrameReader().feed(mux.data_to_send())[0].info == stop.answer().encode()
    assert not mux.can_send(2) and mux.can_send(1)
    with pytest.raises(MuxError):
        mux.send(2, b"x")
    events = mux.receive_data(module(control(msc(2, Signals(rtr=False)))))
    assert FlowChanged(2, False) not in events  # RTR clear stops too: still stopped
    assert mux.receive_data(module(control(msc(2, Signals()))))[0] == FlowChanged(2, False)
    assert mux.can_send(2)


def test_fcoff_stops_every_data_channel_but_not_the_control_channel():
    mux = opened(0, 1)
    assert mux.receive_data(module(control(Message(Type.FCOFF, True)))) == [FlowChanged(None, True)]
    assert FrameReader().feed(mux.data_to_send())[0].info == h("61 01")
    assert not mux.can_send(1) and mux.can_send(0)
    mux.signals(1, Signals(fc=True))  # control messages still go
    assert FrameReader().feed(mux.data_to_send())[0].info == h("E3 05 07 8F")
    assert mux.receive_data(module(control(Message(Type.FCON, True)))) == [FlowChanged(None, False)]
    assert mux.can_send(1)


def test_close_down_with_cld():
    mux = opened(0, 1, 2)
    mux.close(2)
    assert mux.data_to_send() == h("F9 0B 53 01 B8 F9")
    assert mux.receive_data(module(ua(2))) == [Closed(2)]
    mux.close_down()
    assert mux.data_to_send() == h("F9 03 EF 05 C3 01 F2 F9")
    # the response's address is unclear (cmux.md §6): both spellings close the multiplexer
    events = mux.receive_data(h("F9 01 EF 05 C1 01 93 F9"))
    assert events == [Closed(1), ClosedDown(), Answered(Message(Type.CLD, False))]
    assert mux.closed_down and not mux.can_send(1)


@pytest.mark.parametrize("ending", [
    control(Message(Type.CLD, True)),                 # the module closes down
    Frame(0, Kind.DISC, cr=False, pf=True),           # DISC on DLCI 0, as n_gsm does
])
def test_the_module_may_end_the_multiplexer(ending):
    mux = opened(0, 1)
    events = mux.receive_data(module(ending))
    assert events[:2] == [Closed(1), ClosedDown()]
    assert mux.data_to_send()  # answered: CLD response or UA


def test_nsc_to_our_command_is_reported():
    mux = opened(0, 1)
    mux.signals(1, Signals(fc=True))
    refusal = control(Message(Type.NSC, False, bytes([(Type.MSC << 2) | 3])))
    assert mux.receive_data(module(refusal)) == [NotSupported(Type.MSC)]
