"""The pieces of a network serial port without a network: Telnet framing (split at every byte
boundary), the URLs taken, and the randomised back-off between recovery attempts."""
import random

import pytest
from hypothesis import given, strategies as st

from atsock.wire import netserial, telnet
from atsock.core.backoff import Backoff

commands = st.one_of(
    st.builds(telnet.Negotiation, st.sampled_from(sorted(telnet.VERBS)), st.integers(0, 255)),
    st.builds(telnet.Subnegotiation, st.integers(0, 254), st.binary(max_size=40)),  # 255 is IAC itself
)
pieces = st.lists(st.one_of(st.binary(max_size=64), commands), max_size=12)


def encode(piece) -> bytes:
    if isinstance(piece, bytes):
        return telnet.escape(piece)
    if isinstance(piece, telnet.Negotiation):
        return telnet.negotiation(piece.verb, piece.option)
    return bytes([telnet.IAC, telnet.SB, piece.option]) + telnet.escape(piece.data) + bytes([telnet.IAC, telnet.SE])


def decode_in(stream: bytes, cuts):
    decoder, data, events = telnet.TelnetDecoder(), b"", []
    bounds = [0] + sorted(set(cuts)) + [len(stream)]
    for start, end in zip(bounds, bounds[1:]):
        got, found = decoder.feed(stream[start:end])
        data += got
        events += found
    return data, events


@given(pieces, st.lists(st.integers(0, 2000), max_size=20))
def test_data_and_commands_survive_any_split(parts, cuts):
    stream = b"".join(encode(part) for part in parts)
    data, events = decode_in(stream, [cut for cut in cuts if cut <= len(stream)])
    assert data == b"".join(part for part in parts if isinstance(part, bytes))
    assert events == [part for part in parts if not isinstance(part, bytes)]


def test_every_byte_alone_gives_the_same_as_one_piece():
    stream = encode(b"AT\xff\r") + telnet.com_port(telnet.SET_BAUDRATE + telnet.SERVER, (0xFF00FF).to_bytes(4, "big"))
    assert decode_in(stream, range(len(stream))) == decode_in(stream, [])
    assert decode_in(stream, [])[1] == [telnet.Subnegotiation(telnet.COM_PORT, bytes([101, 0, 255, 0, 255]))]


def test_a_piece_without_iac_is_returned_as_it_is():
    chunk = bytes(range(255)) * 4
    assert telnet.TelnetDecoder().feed(chunk)[0] is chunk


def test_a_subnegotiation_is_bounded():
    decoder = telnet.TelnetDecoder()
    _, events = decoder.feed(bytes([telnet.IAC, telnet.SB, telnet.COM_PORT]) + b"x" * 100_000 +
                             bytes([telnet.IAC, telnet.SE]) + b"after")
    assert len(events[0].data) == telnet.MAX_SUBNEGOTIATION - 1
    assert decoder.feed(b"more") == (b"more", [])


def test_line_settings_are_rfc_2217s():
    assert telnet.line_settings(921600) == [(1, (921600).to_bytes(4, "big")), (2, b"\x08"), (3, b"\x01"), (4, b"\x01")]
    assert telnet.com_port(1, b"\x00\x0e\x10\x00") == b"\xff\xfa\x2c\x01\x00\x0e\x10\x00\xff\xf0"


@pytest.mark.parametrize("url, expected", [
    ("rfc2217://127.0.0.1:2217", ("rfc2217", "127.0.0.1", 2217, netserial.CONNECT_TIMEOUT)),
    ("rfc2217://[::1]:4000?ign_set_control&timeout=2.5", ("rfc2217", "::1", 4000, 2.5)),
    ("socket://modem-host:3333", ("socket", "modem-host", 3333, netserial.CONNECT_TIMEOUT)),
])
def test_urls_pyserial_takes_are_taken(url, expected):
    assert netserial.is_network_url(url)
    assert netserial.parse(url) == expected


@pytest.mark.parametrize("url", ["rfc2217://host", "rfc2217://:2217", "socket://host:1?ign_set_control",
                                 "rfc2217://host:1?bogus", "rfc2217://host:1?timeout=0"])
def test_urls_pyserial_refuses_are_refused(url):
    with pytest.raises(ValueError):
        netserial.parse(url)


def test_local_ports_and_other_urls_are_not_network_ports():
    assert not any(map(netserial.is_network_url, ["/dev/ttyUSB2", "loop://", "spy:///dev/ttyUSB2", None]))


@given(st.integers(0, 200), st.integers(0, 2 ** 32))
def test_each_wait_is_in_the_upper_half_of_a_doubling_window_up_to_the_cap(attempt, seed):
    backoff = Backoff(0.25, 8.0, random.Random(seed))
    window = min(8.0, 0.25 * 2 ** attempt)
    assert window / 2 <= backoff.delay(attempt) <= window


def test_modems_that_fail_together_do_not_retry_in_step():
    crowd = [Backoff(0.5, 30.0) for _ in range(50)]  # each seeded from the OS, as each Modem's is
    for attempt in range(6):
        waits = [backoff.delay(attempt) for backoff in crowd]
        assert len(set(waits)) == len(waits)
        assert max(waits) - min(waits) > Backoff(0.5, 30.0).window(attempt) / 10  # spread, not bunched


def test_a_back_off_needs_a_positive_first_wait_below_its_cap():
    with pytest.raises(ValueError):
        Backoff(0, 1)
    with pytest.raises(ValueError):
        Backoff(2, 1)
