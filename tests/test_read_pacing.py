"""Reading announced payloads when they can be there (:mod:`atsock.wire.readpacing`).

The pacer is sans-I/O: these tests give it the clock. It must never pause on a port it has not seen
deliver at its line rate (a USB modem ignores the baud rate), never pause a short frame (a short
answer is read at once), and never wait longer than the line time of the bytes still due.
End to end, a download over a paced line arrives whole with the reader pausing, and one over a
line faster than the rate the modem was given arrives whole without.
"""
import hashlib
import os

import pytest
from hypothesis import given, strategies as st

import atsock
from atsock.wire.readpacing import HELD_MAX, PAUSE_MAX, PAUSE_MIN, RECHECK, RECHECK_MAX, WATCH_MIN, ReadPacer
from fakemodem import FakeModem

from .conftest import emulator_options, modem_settings

RATE = 92160.0  # 921600 baud, 10 bits a byte


def arrive(pacer, due, rate, start, seconds_per_byte, step=100):
    """One frame of ``due`` bytes read ``step`` at a time as they arrive; returns the pauses asked for."""
    pauses, now = [], start
    while due > 0:
        pauses.append(pacer.pause(due, rate, now))
        taken = min(step, due)
        due -= taken
        now += taken * seconds_per_byte
    pauses.append(pacer.pause(0, rate, now))
    return pauses, now


def test_no_pause_until_the_port_was_seen_to_deliver_at_its_rate():
    pacer = ReadPacer()
    pauses, now = arrive(pacer, 1500, RATE, 0.0, 1 / RATE)
    assert not any(pauses) and pacer.paced is True
    assert pacer.pause(1500, RATE, now) == pytest.approx(1500 / RATE)


def test_a_port_faster_than_its_rate_is_never_paused():
    pacer = ReadPacer()
    arrive(pacer, 1500, RATE, 0.0, 1 / (50 * RATE))  # a USB modem: its bytes come at once
    assert pacer.paced is False
    for _ in range(3 * RECHECK):
        pauses, _ = arrive(pacer, 1500, RATE, 0.0, 1 / (50 * RATE))
        assert not any(pauses)


def test_a_short_frame_is_never_paused_nor_watched():
    pacer = ReadPacer()
    arrive(pacer, 1500, RATE, 0.0, 1 / RATE)
    short = int(PAUSE_MIN * RATE) - 1
    assert pacer.pause(short, RATE, 1.0) == 0.0
    pacer.pause(0, RATE, 1.0)
    fresh = ReadPacer()
    arrive(fresh, int(WATCH_MIN * RATE) - 1, RATE, 0.0, 1 / (50 * RATE))
    assert fresh.paced is None  # too short to tell a fast port from the line's granularity


def test_pauses_are_bounded_and_a_new_rate_is_watched_again():
    pacer = ReadPacer()
    arrive(pacer, 1500, RATE, 0.0, 1 / RATE)
    assert pacer.pause(8192, RATE, 1.0) == pytest.approx(HELD_MAX / RATE)  # the terminal's buffer never fills
    pacer.pause(0, RATE, 1.0)
    assert pacer.pause(8192, RATE / 100, 2.0) == 0.0  # (a new rate: watched first)
    pacer.pause(0, RATE / 100, 3.0)
    pacer.paced = True
    assert pacer.pause(8192, RATE / 100, 4.0) == PAUSE_MAX
    pacer.pause(0, RATE, 1.0)
    assert pacer.pause(1500, 2 * RATE, 2.0) == 0.0 and pacer.paced is None


def test_a_frame_given_up_is_no_evidence():
    pacer = ReadPacer()
    pacer.pause(1500, RATE, 0.0)
    pacer.pause(None, RATE, 3.0)  # the engine dropped it: its bytes may never have come
    assert pacer.paced is None


def watched_frames(pacer, count, seconds_per_byte=1 / RATE):
    """The indexes of the frames among the next ``count`` that were read unpaused (watched)."""
    return [index for index in range(count) if not arrive(pacer, 1500, RATE, 0.0, seconds_per_byte)[0][0]]


def test_the_port_is_watched_again_ever_less_often_while_it_stays_paced():
    pacer = ReadPacer()
    arrive(pacer, 1500, RATE, 0.0, 1 / RATE)
    intervals = [RECHECK * 2 ** k for k in range(6)] + [RECHECK_MAX] * 2
    watched = watched_frames(pacer, sum(intervals))
    assert [b - a for a, b in zip([-1] + watched, watched)] == intervals
    assert pacer.paced is True
    arrive(pacer, 1500, RATE, 0.0, 1 / (50 * RATE))  # the next watched frame came fast
    while pacer.paced:
        arrive(pacer, 1500, RATE, 0.0, 1 / (50 * RATE))
    assert not any(arrive(pacer, 1500, RATE, 0.0, 1 / RATE)[0])
    for _ in range(RECHECK):
        arrive(pacer, 1500, RATE, 0.0, 1 / RATE)
    assert pacer.paced is True  # watched again RECHECK frames later, and found paced


@given(st.lists(st.tuples(st.integers(1, 10_000), st.floats(0.2, 5.0)), max_size=60))
def test_a_pause_never_outlasts_the_line_time_of_what_is_due(frames):
    pacer = ReadPacer()
    now = 0.0
    for due, slowness in frames:
        while due > 0:
            pause = pacer.pause(due, RATE, now)
            assert 0.0 <= pause <= min(PAUSE_MAX, due / RATE, HELD_MAX / RATE)
            due -= min(due, 300)
            now += 300 * slowness / RATE + pause
        pacer.pause(0, RATE, now)


def source(size):
    payload = os.urandom(size)

    def handler(conn):
        conn.recv(16)
        conn.sendall(payload)

    return payload, handler


@pytest.mark.parametrize("dialect", ["quectel", "esp8285"])
@pytest.mark.parametrize("told", [921600, 9600])
def test_downloads_arrive_whole_whether_or_not_the_reader_pauses(dialect, told, tcp_server):
    """Told the line's own rate, the reader pauses between reads; told a rate far below what
    the port delivers (as a USB modem is), it sees that and never pauses."""
    payload, handler = source(48 * 1024)
    server = tcp_server(handler)
    # (a USB interface of the module: the rate atsock is told does not reach the line)
    with FakeModem(dialect, baudrate=921600, usb=True, **emulator_options(dialect)) as fm, \
            atsock.open_modem(fm.port, dialect=dialect, baudrate=told, **modem_settings(dialect)) as modem:
        sock = modem.socket()
        sock.settimeout(60)
        sock.connect(("127.0.0.1", server.port))
        sock.write(b"go")
        received = sock.read(len(payload))
        sock.close()
        pacer = modem.engine.transport._pacer
    assert hashlib.sha256(received).digest() == hashlib.sha256(payload).digest()
    assert pacer.paced is (told == 921600)


def test_a_port_closed_during_a_pause_stays_closed_and_loses_no_byte_before_it():
    """The transport pauses on a real pty; bytes written meanwhile are all read when the pause ends,
    and a transport closed while paused does not start listening again when the timer fires."""
    import asyncio
    import tty

    import serial

    from atsock.wire.transport import DescriptorTransport

    master, slave = os.openpty()
    tty.setraw(slave)
    port = serial.Serial(os.ttyname(slave), baudrate=921600, timeout=0)
    received = bytearray()

    class Sink(asyncio.Protocol):
        def data_received(self, data):
            received.extend(data)

    async def scenario():
        loop = asyncio.get_running_loop()
        transport = DescriptorTransport(loop, Sink(), port)
        await asyncio.sleep(0)
        transport._pacer.paced, transport._pacer._rate = True, RATE
        transport.expect(2048)  # about 22 ms of line time: the reader stops listening
        assert transport._paused_until is not None
        os.write(master, b"x" * 4096)
        await asyncio.sleep(0.1)
        assert len(received) == 4096 and transport._paused_until is None
        transport.expect(2048)
        transport.close()
        await asyncio.sleep(0.1)  # the pause's timer has fired on a closed transport
        assert transport.is_closing() and not transport._has_reader

    try:
        asyncio.run(scenario())
    finally:
        os.close(master)
