"""The emulator's UART budget, on a logical clock: at every wake-up exactly the bytes whose time has
come (their stop bit ended, give or take the lookahead) have moved, in both directions, and the
UART does not wake more often than it must. (Real timing is measured by ``python -m bench.pacing``;
tests assert no times.)"""
import heapq
import itertools
import os
import socket

import pytest

from fakemodem.uart import LOOKAHEAD, MIN_WAIT, Uart


class Timer:
    def __init__(self):
        self.cancelled = False

    def cancel(self):
        self.cancelled = True


class LogicalLoop:
    """Just what the UART uses of an event loop, with a clock that moves only when told."""

    def __init__(self):
        self.now = 0.0
        self._timers = []
        self._order = itertools.count()
        self.readers, self.writers = {}, {}
        self.wakeups = 0

    def time(self):
        return self.now

    def call_at(self, when, callback):
        timer = Timer()
        heapq.heappush(self._timers, (when, next(self._order), timer, callback))
        return timer

    def call_later(self, delay, callback):
        return self.call_at(self.now + delay, callback)

    def add_reader(self, fd, callback):
        self.readers[fd] = callback

    def remove_reader(self, fd):
        self.readers.pop(fd, None)

    def add_writer(self, fd, callback):
        self.writers[fd] = callback

    def remove_writer(self, fd):
        self.writers.pop(fd, None)

    def run_until(self, deadline, each=None):
        """Fire the timers due by ``deadline`` in order, calling ``each()`` after every one."""
        while self._timers and self._timers[0][0] <= deadline:
            when, _, timer, callback = heapq.heappop(self._timers)
            if timer.cancelled:
                continue
            self.now = max(self.now, when)
            self.wakeups += 1
            callback()
            if each is not None:
                each()
        self.now = max(self.now, deadline)


@pytest.fixture
def wire():
    module_end, host_end = socket.socketpair()
    module_end.setblocking(False)
    yield module_end, host_end
    module_end.close()
    host_end.close()


def due(now, start, rate, total):
    return min(total, int((now + LOOKAHEAD - start) * rate))


def drain(sock):
    got = 0
    sock.setblocking(False)
    try:
        while True:
            got += len(sock.recv(65536))
    except BlockingIOError:
        return got


@pytest.mark.parametrize("baud", [115200, 921600])
def test_module_to_host_bytes_leave_exactly_when_due(wire, baud):
    module_end, host_end = wire
    loop = LogicalLoop()
    loop.now = 10.0
    uart = Uart(loop, module_end.fileno(), baud, lambda data: None)
    rate, total = baud / 10, baud // 10  # one second of line time
    uart.write(os.urandom(total))
    seen = [drain(host_end)]
    assert seen[0] == due(10.0, 10.0, rate, total) > 0  # what is due goes at once

    def check():
        seen.append(seen[-1] + drain(host_end))
        assert seen[-1] == due(loop.now, 10.0, rate, total)

    loop.run_until(12.0, check)
    assert seen[-1] == total and uart.backlog == 0
    assert loop.wakeups <= 1.0 / MIN_WAIT + 2  # no spinning: at most one wake-up per MIN_WAIT


@pytest.mark.parametrize("baud", [115200, 921600])
def test_host_to_module_bytes_arrive_exactly_when_due(wire, baud):
    module_end, host_end = wire
    loop = LogicalLoop()
    received = bytearray()
    uart = Uart(loop, module_end.fileno(), baud, received.extend)
    rate, total = baud / 10, baud // 20  # half a second of line time
    payload = os.urandom(total)
    host_end.sendall(payload)
    loop.now = 3.0
    loop.readers[module_end.fileno()]()  # the pty became readable

    def check():
        if module_end.fileno() in loop.readers:  # the UART takes more from the pty when it has room
            loop.readers[module_end.fileno()]()
        assert len(received) == due(loop.now, 3.0, rate, total)

    check()
    loop.run_until(5.0, check)
    assert bytes(received) == payload
    assert uart.bytes_in == total


def test_a_burst_after_a_pause_starts_from_the_clock_not_from_the_past(wire):
    module_end, host_end = wire
    loop = LogicalLoop()
    uart = Uart(loop, module_end.fileno(), 115200, lambda data: None)
    uart.write(b"x" * 100)
    loop.run_until(1.0)
    assert drain(host_end) == 100
    loop.now = 5.0  # the line has been idle for seconds: no credit is carried over
    uart.write(b"y" * 1000)
    assert drain(host_end) == due(5.0, 5.0, 11520, 1000)


def test_a_new_line_rate_applies_to_the_next_bytes(wire):
    module_end, host_end = wire
    loop = LogicalLoop()
    uart = Uart(loop, module_end.fileno(), 115200, lambda data: None)
    uart.baudrate = 921600
    uart.write(b"z" * 10_000)
    assert drain(host_end) == due(0.0, 0.0, 92160, 10_000)
    uart.paced = False  # unpaced: everything at once
    uart.write(b"w" * 10)
    loop.run_until(1.0)
    assert drain(host_end) == 10_000 - due(0.0, 0.0, 92160, 10_000) + 10


def test_without_a_rate_bytes_pass_at_once(wire):
    module_end, host_end = wire
    loop = LogicalLoop()
    received = bytearray()
    uart = Uart(loop, module_end.fileno(), None, received.extend)
    uart.write(b"hello" * 1000)
    assert drain(host_end) == 5000
    host_end.sendall(b"AT\r" * 100)
    loop.readers[module_end.fileno()]()
    assert bytes(received) == b"AT\r" * 100
