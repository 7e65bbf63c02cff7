"""Property-based tests of the multiplexer's reader and station (hypothesis).

Random frames, random cuts, corrupted check sequences and noise: the reader never raises, holds at
most one bounded frame, gives the same frames however the stream is cut, drops exactly the frames
whose FCS does not check (counting them) and returns every other one; the station fed anything in
any state never raises. ``ATSOCK_CMUX_EXAMPLES`` sets the examples per property (300 here).
"""
import os

from hypothesis import HealthCheck, given, settings, strategies as st

from atsock.wire.cmux.control import Message, Type, msc, Signals
from atsock.wire.cmux.frames import FLAG, Frame, FrameReader, Kind, encode
from atsock.wire.cmux.mux import Multiplexer

EXAMPLES = int(os.environ.get("ATSOCK_CMUX_EXAMPLES", "300"))
N1 = 127
SETTINGS = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# DLCI 62 with C/R 0 would make an address octet equal to the flag; 62 and 63 are reserved
frames = st.builds(Frame, dlci=st.integers(0, 61), kind=st.sampled_from(list(Kind)),
                   info=st.binary(max_size=N1), cr=st.booleans(), pf=st.booleans())
# noise without flags, and with the EA bit clear: after a flag it is a bad address, never a frame
# whose FCS fails (which it would be, and be counted as, with odd octets)
noise = st.binary(max_size=20).map(lambda b: bytes(octet & 0xFE for octet in b))
fill = st.integers(0, 3).map(lambda n: b"\xf9" * n)


def cut(data: bytes, cuts, reader=None):
    """Feed ``data`` in the pieces ``cuts`` makes; the frames, and the reader."""
    reader = reader or FrameReader(N1)
    points = sorted(set(c % (len(data) + 1) for c in cuts))
    found = []
    for start, end in zip([0] + points, points + [len(data)]):
        found += reader.feed(data[start:end])
        assert reader.buffered <= N1 + 6
    return found, reader


def corrupt(wire: bytes, flip: int) -> bytes:
    """The same frame with its FCS octet changed (never into a flag)."""
    fcs = wire[-2] ^ flip
    if fcs == FLAG:
        fcs ^= 0x01
    return wire[:-2] + bytes([fcs]) + wire[-1:]


@SETTINGS
@given(st.lists(st.tuples(noise, fill, frames, st.integers(0, 255)), max_size=25),
       st.lists(st.integers(0, 10_000), max_size=40))
def test_bad_frames_are_dropped_and_counted_and_the_rest_come_back(items, cuts):
    stream, expected, corrupted = b"", [], 0
    for garbage, flags, frame, flip in items:
        wire = encode(frame)
        if flip and FLAG not in frame.info:  # a corrupted frame's body is hunted through: keep it flagless
            wire = corrupt(wire, flip)
            corrupted += 1
        else:
            expected.append(frame)
        stream += garbage + flags + wire
    # a frame still undecided at the end (a body that might yet come) is decided by what follows:
    # more than a frame's worth of noise, then one last frame
    last = Frame(1, Kind.UIH, b"end")
    stream += bytes(N1 + 6) + encode(last)
    expected.append(last)
    found, reader = cut(stream, cuts)
    assert found == expected
    assert reader.stats.bad_fcs == corrupted
    assert reader.stats.frames == len(expected)


soup = st.lists(st.one_of(frames.map(encode), frames.map(lambda f: encode(f)[:-3]), st.binary(max_size=30),
                          st.sampled_from([b"\xf9", b"\xf9\xf9", b"\r\nRDY\r\n", b"\x07\xef", b"\x03\x73\x01"])),
                max_size=40).map(b"".join)


@SETTINGS
@given(soup, st.lists(st.integers(0, 10_000), max_size=40))
def test_any_stream_gives_the_same_frames_however_it_is_cut(data, cuts):
    whole, _ = cut(data, [])
    pieces, _ = cut(data, cuts)
    assert whole == pieces


def module_frames():
    control = st.lists(st.sampled_from([Message(Type.TEST, True, b"x"), Message(Type.FCOFF, True),
                                        Message(Type.FCON, True), msc(1, Signals(fc=True)), msc(2, Signals()),
                                        Message(Type.PN, True, bytes(8)), Message(Type.CLD, True),
                                        Message(Type.CLD, False), Message(0x3F, True), Message(Type.NSC, False)]),
                       min_size=1, max_size=3)
    control_frames = st.builds(lambda ms, pf: Frame(0, Kind.UIH, b"".join(m.encode() for m in ms), False, pf),
                               control, st.booleans())
    return st.lists(st.one_of(frames, control_frames,
                              st.builds(Frame, st.integers(0, 4), st.sampled_from(list(Kind)), st.binary(max_size=8),
                                        st.booleans(), st.booleans())), max_size=30)


@SETTINGS
@given(module_frames(), st.lists(st.tuples(st.sampled_from(["open", "close", "send", "down"]), st.integers(0, 4)),
                                 max_size=10), st.binary(max_size=40))
def test_the_station_never_raises_on_what_it_receives(received, actions, garbage):
    mux = Multiplexer(N1)
    mux.open(0)
    for index, frame in enumerate(received):
        if actions and index % 3 == 0:
            action, dlci = actions[index % len(actions)]
            if action == "open" and not mux.closed_down and mux.state(0).value == "open":
                mux.open(dlci)
            elif action == "close":
                mux.close(dlci)
            elif action == "send" and mux.can_send(dlci):
                mux.send(dlci, b"data")
            elif action == "down" and mux.state(0).value == "open" and not mux.closed_down:
                mux.close_down()
        mux.receive_data(encode(frame) + garbage[:index])
        mux.data_to_send()
