"""Property-based tests: the channel parser fed generated modem streams (hypothesis).

Whatever the bytes, the parser never raises, holds at most one bounded partial frame, and gives
the same events however the stream is cut. Well-formed responses carrying arbitrary payload bytes
come back exactly, URCs between their lines included.
"""
import random

from hypothesis import HealthCheck, given, settings, strategies as st

from atsock.wire.channel import ATChannel, Command, Final, Intermediate, Urc
from atsock.wire.framing import DEFAULT_MAX_LINE, FrameReader, LineFrame
from modems.esp import EspDialect
from modems.quectel import QuectelDialect
from modems.quectel.tls import PAYLOAD_RULE as QSSLRECV_RULE

EXAMPLES = 1000
MAX_PAYLOAD = 8192  # the largest payload any dialect allows

DIALECTS = {
    "quectel": (QuectelDialect.urc_prefixes + ("RDY", "+QIURC:", "+QIOPEN:"), QuectelDialect.payload_rules),
    "esp": (EspDialect.urc_prefixes + ("ready",), EspDialect.payload_rules),
}

# modem output is mostly protocol words; raw bytes and fragments of them make the noise
TOKENS = [b"\r\n", b"OK", b"ERROR", b"> ", b">", b"+QIRD: ", b"+IPD,0,", b"+CIPRECVDATA:", b"+QIURC: ",
          b'"recv",0', b"SEND OK", b"+CME ERROR: 3", b":", b",", b"12", b"5", b"0", b"\x00", b"\xff"]
stream_parts = st.lists(st.one_of(st.sampled_from(TOKENS), st.binary(max_size=40)), max_size=120)


def channel(dialect, fast=True):
    urcs, rules = DIALECTS[dialect]
    return ATChannel(urc_prefixes=urcs, payload_rules=rules + ((QSSLRECV_RULE,) if dialect == "quectel" else ()),
                     fast=fast)


def feed(dialect, data, cuts, chan=None):
    """Parse ``data`` cut at ``cuts``, checking after every piece that memory stays bounded."""
    chan = chan or channel(dialect)
    events = []
    points = sorted(set(c % (len(data) + 1) for c in cuts))
    for start, end in zip([0] + points, points + [len(data)]):
        events += chan.receive(data[start:end])
        assert chan._framer.buffered <= max(DEFAULT_MAX_LINE, MAX_PAYLOAD) + 64
    return events


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(sorted(DIALECTS)), stream_parts, st.lists(st.integers(0, 10_000), max_size=30))
def test_any_stream_parses_without_error_in_bounded_memory(dialect, parts, cuts):
    feed(dialect, b"".join(parts), cuts)


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(sorted(DIALECTS)), stream_parts, st.lists(st.integers(0, 10_000), max_size=30))
def test_events_do_not_depend_on_where_the_stream_is_cut(dialect, parts, cuts):
    data = b"".join(parts)
    assert feed(dialect, data, []) == feed(dialect, data, cuts)


printable_line = st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=60) \
    .filter(lambda s: not s.startswith((">", "+QIRD", "OK", "ERROR", "+CME", "+CMS", "+QIURC", "RDY", "+QIOPEN",
                                        "AT+QIRD") + QuectelDialect.urc_prefixes))


@settings(max_examples=EXAMPLES, deadline=None)
@given(st.lists(st.tuples(st.binary(max_size=1500), st.lists(printable_line, max_size=2),
                          st.booleans()), min_size=1, max_size=6),
       st.lists(st.integers(0, 100_000), max_size=40))
def test_payloads_come_back_exactly_with_urcs_between_lines(responses, cuts):
    """QIRD answers with arbitrary bytes, extra lines and URCs in between, each cut anywhere.
    (Each answer is fed after its command is begun: a modem answers only what it was asked.)"""
    chan = channel("quectel")
    for payload, extra_lines, urc_first in responses:
        data, expected = b"", []
        if urc_first:
            data += b'\r\n+QIURC: "recv",1\r\n'
            expected.append(Urc('+QIURC: "recv",1'))
        for line in extra_lines:
            data += b"\r\n" + line.encode() + b"\r\n"
            expected.append(Intermediate(line))
        data += b"\r\n+QIRD: %d\r\n" % len(payload) + payload + b"\r\n\r\nOK\r\n"
        expected += [Intermediate(f"+QIRD: {len(payload)}", payload), Final("OK")]
        chan.begin(Command("AT+QIRD=0,1500", ("+QIRD:",)))
        assert feed("quectel", data, cuts, chan) == expected
        assert chan.in_flight is None


# every dialect's length-delimited answers: (header for n bytes, what follows the payload, whether
# the header is known complete at its last byte: ESP-AT 2.x's short +CIPRECVDATA form may still
# become the longer one with the sender until the bytes after it tell)
PAYLOAD_FRAMES = {
    "quectel": [(b"\r\n+QIRD: %d\r\n", b"\r\n\r\nOK\r\n", True),
                (b'\r\n+QIRD: %d,"127.0.0.1",5000\r\n', b"\r\n\r\nOK\r\n", True)],
    "esp": [(b"\r\n+CIPRECVDATA,%d:", b"\r\nOK\r\n", True), (b"\r\n+CIPRECVDATA:%d,", b"\r\nOK\r\n", False),
            (b'\r\n+CIPRECVDATA:%d,"127.0.0.1",5000,', b"\r\nOK\r\n", True), (b"\r\n+IPD,0,%d:", b"", True)],
}


@settings(max_examples=EXAMPLES, deadline=None)
@given(st.sampled_from(sorted(DIALECTS)), st.data(), st.binary(max_size=MAX_PAYLOAD // 2),
       st.lists(st.integers(0, 100_000), max_size=40))
def test_what_is_due_is_exactly_the_payload_still_missing(dialect, data, payload, cuts):
    """The read path sleeps on ``due`` (bytes certain to come). Fed in any pieces, it never
    exceeds the bytes of the payload not yet fed (the answer's trailer is not counted: a module
    sends it later than the line time says), so never what the stream still carries; once a
    header is known complete and until its payload is, it is exactly that count; 0 after."""
    header, trailer, known_at_end = data.draw(st.sampled_from(PAYLOAD_FRAMES[dialect]))
    head = header % len(payload)
    stream = head + payload + trailer
    chan = channel(dialect)
    points = sorted(set(c % (len(stream) + 1) for c in cuts))
    events, start = [], 0
    for end in points + [len(stream)]:
        events += chan.receive(stream[start:end])
        start = end
        missing = max(0, min(len(payload), len(head) + len(payload) - end))
        assert chan.due <= missing
        if known_at_end and len(head) <= end < len(head) + len(payload):
            assert chan.due == missing
    assert chan.due == 0
    assert [e.data for e in events if getattr(e, "data", None) is not None] == [payload]


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(sorted(DIALECTS)), stream_parts, st.lists(st.integers(0, 10_000), max_size=30))
def test_any_stream_reads_as_the_reference_reading_reads_it(dialect, parts, cuts):
    data = b"".join(parts)
    assert feed(dialect, data, cuts) == feed(dialect, data, [], channel(dialect, fast=False))


# each dialect's answers to a read command: (command, header for n bytes, trailer), and its notices
# (a pushed +IPD carries data too)
READ_ANSWERS = {
    "quectel": [(Command("AT+QIRD=0,1500", ("+QIRD:",)), b"\r\n+QIRD: %d\r\n", b"\r\n\r\nOK\r\n"),
                (Command("AT+QIRD=0", ("+QIRD:",)), b'\r\n+QIRD: %d,"10.0.0.1",5000\r\n', b"\r\n\r\nOK\r\n"),
                (Command("AT+QSSLRECV=0,1500", ("+QSSLRECV:",)), b"\r\n+QSSLRECV: %d\r\n", b"\r\n\r\nOK\r\n")],
    "esp": [(Command("AT+CIPRECVDATA=0,2048", ("+CIPRECVDATA",)), b"\r\n+CIPRECVDATA,%d:", b"\r\nOK\r\n"),
            (Command("AT+CIPRECVDATA=0,8192", ("+CIPRECVDATA",)), b"+CIPRECVDATA:%d,", b"\r\nOK\r\n"),
            (Command("AT+CIPRECVDATA=0,8192", ("+CIPRECVDATA",)), b'+CIPRECVDATA:%d,"10.0.0.1",5000,', b"\r\nOK\r\n")],
}
NOTICES = {"quectel": [b'\r\n+QIURC: "recv",0\r\n', b'\r\n+QIURC: "closed",1\r\n', b"\r\n+CPIN: READY\r\n"],
           "esp": [b"\r\n+IPD,1,3:abc", b"\r\n+IPD,0,12\r\n", b"\r\n1,CLOSED\r\n", b"\r\nWIFI GOT IP\r\n"]}


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(sorted(DIALECTS)), st.data(), st.lists(st.integers(0, 100_000), max_size=40))
def test_read_answers_with_notices_anywhere_read_as_the_reference_reading_reads_them(dialect, data, cuts):
    """Read answers in every form, with notices before them, between their data and their trailer,
    and after them, cut anywhere: the fast reading (a trailer already there taken with the data)
    gives the reference reading's events, and so does the whole stream at once."""
    fast, reference, whole = channel(dialect), channel(dialect, fast=False), channel(dialect)
    got = {"fast": [], "reference": [], "whole": []}
    for _ in range(data.draw(st.integers(1, 4))):
        command, header, trailer = data.draw(st.sampled_from(READ_ANSWERS[dialect]))
        payload = data.draw(st.binary(max_size=1500))
        notices = st.lists(st.sampled_from(NOTICES[dialect]), max_size=2).map(b"".join)
        stream = (data.draw(notices) + header % len(payload) + payload + data.draw(notices) + trailer
                  + data.draw(notices))
        for name, chan in (("fast", fast), ("reference", reference), ("whole", whole)):
            chan.begin(command)
            got[name] += feed(dialect, stream, [] if name == "whole" else cuts, chan)
    assert got["fast"] == got["reference"] == got["whole"]
    assert fast.in_flight is None and reference.in_flight is None


def test_a_whole_read_answer_takes_its_trailer_with_its_data():
    """The fast reading is the one that runs: the trailer's frame is the ready-made one."""
    for trailer, rules in ((b"\r\n\r\nOK\r\n", QuectelDialect.payload_rules), (b"\r\nOK\r\n", EspDialect.payload_rules)):
        header = READ_ANSWERS["quectel" if rules is QuectelDialect.payload_rules else "esp"][0][1]
        reader = FrameReader(rules)
        frames = reader.feed(header % 5 + b"OK\r\n>" + trailer + b"\r\nRDY\r\n")
        assert frames[1] is reader._trailer_frames[trailer]
        assert frames[1:] == [LineFrame("OK"), LineFrame("RDY")]
        assert FrameReader(rules, fast=False).feed(header % 5 + b"OK\r\n>" + trailer + b"\r\nRDY\r\n") == frames


def test_a_random_megabyte_of_noise_is_survived():
    """One long run beyond hypothesis's sizes: 1 MiB of token soup in random pieces."""
    rng = random.Random(2024)
    data = b"".join(rng.choice(TOKENS) if rng.random() < 0.7 else rng.randbytes(rng.randint(1, 64))
                    for _ in range(60_000))[:1 << 20]
    cuts = [rng.randint(0, len(data)) for _ in range(5000)]
    for dialect in DIALECTS:
        assert feed(dialect, data, cuts) == feed(dialect, data, [])
