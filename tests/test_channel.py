"""The sans-I/O AT channel: same events however the bytes are cut, bounded against a bad modem."""
import random

import pytest

from atsock.wire.channel import ATChannel, Command, Final, Intermediate, Prompt, ProtocolError, Urc
from modems.esp import EspDialect
from modems.quectel import QuectelDialect

QIRD_PAYLOAD = b'OK\r\n+QIURC: "closed",0\r\n\r\n> \x00\xff'


def quectel_channel():
    channel = ATChannel(urc_prefixes=QuectelDialect.urc_prefixes + ("RDY", "+QIURC:", "+QIOPEN:"),
                        payload_rules=QuectelDialect.payload_rules)
    return channel


# A session as (command or None, bytes the modem sends while it is in flight).
SESSION = [
    (None, b"\r\nRDY\r\n\r\n+CFUN: 1\r\n"),
    (Command("AT"), b"AT\r\r\nOK\r\n"),                                        # echo on
    (Command("AT+CPIN?", ("+CPIN:",)), b"\r\n+CPIN: READY\r\n\r\nOK\r\n"),
    (Command("AT+QISTATE?", ("+QISTATE:",)),
     b'\r\n+QISTATE: 0,"TCP","10.0.0.1",80,5000,2,1,0,0,"uart1"\r\n'
     b'\r\n+QIURC: "recv",0\r\n'                                                  # URC between lines
     b'\r\n+QISTATE: 1,"TCP","10.0.0.1",81,5001,2,1,0,0,"uart1"\r\n\r\nOK\r\n'),
    (Command("AT+QIOPEN=1,2,\"TCP\",\"10.0.0.1\",80,0,0"), b"\r\nOK\r\n\r\n+QIOPEN: 2,0\r\n"),
    (Command("AT+QISEND=0,5", extra_finals=frozenset({"SEND OK", "SEND FAIL"})), b"\r\n> \r\nSEND OK\r\n"),
    (Command("AT+QIRD=0,1500", ("+QIRD:",)),
     b"\r\n+QIRD: %d\r\n" % len(QIRD_PAYLOAD) + QIRD_PAYLOAD + b"\r\n\r\nOK\r\n"),
    (Command("AT+QIRD=0,1500", ("+QIRD:",)), b"\r\n+QIRD: 0\r\n\r\nOK\r\n"),
    (Command("AT+QIRD=0,0", ("+QIRD:",)), b"\r\n+QIRD: 6,6,0\r\n\r\nOK\r\n"),
    (Command("AT+QIACT=1"), b"\r\n+CME ERROR: 30\r\n"),
    (None, b'\r\n+QIURC: "closed",0\r\n'),
]

EXPECTED = [
    Urc("RDY"), Urc("+CFUN: 1"),
    Final("OK"),
    Intermediate("+CPIN: READY"), Final("OK"),
    Intermediate('+QISTATE: 0,"TCP","10.0.0.1",80,5000,2,1,0,0,"uart1"'), Urc('+QIURC: "recv",0'),
    Intermediate('+QISTATE: 1,"TCP","10.0.0.1",81,5001,2,1,0,0,"uart1"'), Final("OK"),
    Final("OK"), Urc("+QIOPEN: 2,0"),
    Prompt(), Final("SEND OK"),
    Intermediate("+QIRD: %d" % len(QIRD_PAYLOAD), QIRD_PAYLOAD), Final("OK"),
    Intermediate("+QIRD: 0", b""), Final("OK"),
    Intermediate("+QIRD: 6,6,0"), Final("OK"),
    Final("+CME ERROR: 30"),
    Urc('+QIURC: "closed",0'),
]


def run_session(cut):
    """Play SESSION through a channel, delivering each part's bytes in the pieces ``cut`` makes."""
    channel = quectel_channel()
    events = []
    for command, data in SESSION:
        if command is not None:
            channel.begin(command)
        for piece in cut(data):
            events.extend(channel.receive(piece))
        assert channel.in_flight is None
    return events


def whole(data):
    return [data]


def byte_by_byte(data):
    return [data[i:i + 1] for i in range(len(data))]


def test_session_in_one_piece():
    assert run_session(whole) == EXPECTED


def test_session_byte_by_byte():
    assert run_session(byte_by_byte) == EXPECTED


@pytest.mark.parametrize("seed", range(200))
def test_session_cut_at_random_points(seed):
    rng = random.Random(seed)

    def random_cuts(data):
        points = sorted(rng.sample(range(1, len(data)), k=min(len(data) - 1, rng.randint(1, 6))))
        return [data[a:b] for a, b in zip([0] + points, points + [len(data)])]

    assert run_session(random_cuts) == EXPECTED


def test_cme_error_code_and_ok():
    assert Final("+CME ERROR: 10").error_code == 10
    assert Final("ERROR").error_code is None
    assert Final("OK").ok and not Final("ERROR").ok


def test_overlong_line_is_reported_and_reading_resumes():
    channel = ATChannel(max_line=64)
    channel.begin(Command("AT"))
    events = channel.receive(b"\r\n" + b"x" * 200)
    events += channel.receive(b"yyy\r\n\r\nOK\r\n")
    assert isinstance(events[0], ProtocolError)
    assert events[1:] == [Final("OK")]


def test_absurd_announced_length_is_refused_not_waited_for():
    channel = quectel_channel()
    channel.begin(Command("AT+QIRD=0,1500", ("+QIRD:",)))
    events = channel.receive(b"\r\n+QIRD: 99999999\r\n\r\nOK\r\n")
    assert isinstance(events[0], ProtocolError)
    assert "99999999" in events[0].reason
    assert events[1:] == [Final("OK")]


def test_a_second_command_before_the_final_is_refused():
    channel = ATChannel()
    channel.begin(Command("AT"))
    with pytest.raises(RuntimeError):
        channel.begin(Command("AT"))
    channel.receive(b"\r\nOK\r\n")
    channel.begin(Command("AT"))


def test_lines_without_command_are_urcs_and_prompt_space_is_optional():
    channel = ATChannel()
    assert channel.receive(b"\r\nSOMETHING\r\n") == [Urc("SOMETHING")]
    channel.begin(Command("AT+QISEND=0,3", extra_finals=frozenset({"SEND OK"})))
    assert channel.receive(b"\r\n>") == [Prompt()]
    assert channel.receive(b"\r\nSEND OK\r\n") == [Final("SEND OK")]


def test_esp_2x_read_header_cut_before_its_sender_is_not_taken_for_the_short_form():
    channel = ATChannel(urc_prefixes=EspDialect.urc_prefixes, payload_rules=EspDialect.payload_rules,
                        terminator=b"\r\n")
    for pieces, header, data in (
            ([b'+CIPRECVDATA:9,"127.0.', b'0.1",58347,OK 20000\n', b"\r\nOK\r\n"],
             '+CIPRECVDATA:9,"127.0.0.1",58347,', b"OK 20000\n"),
            ([b'+CIPRECVDATA:5,"ab', b"cd\r\nOK\r\n"], "+CIPRECVDATA:5,", b'"abcd')):  # no sender: data
        channel.begin(Command("AT+CIPRECVDATA=0,8192", ("+CIPRECVDATA",)))
        events = [event for piece in pieces for event in channel.receive(piece)]
        assert events == [Intermediate(header, data), Final("OK")]
