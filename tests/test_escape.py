"""The escape's timing without a modem: the payload's "+" judged by the emulator's own escape
detector (fakemodem/datamode.py, the oracle) on a simulated clock, with the line's rate and a
delivery jitter; and the waits of the start-up recovery."""
import asyncio

import pytest
from hypothesis import given, settings, strategies as st

from atsock.wire.escape import DEFAULT_TIMING, JITTER, LineClock, PlusGuard, guard_silence, stale_escape_waits
from atsock.core.transparent import FLUSH_DELAY
from fakemodem.datamode import DataMode

from .test_raw_mode import engine_with_transport
from .test_uart_pacing import LogicalLoop

RATE = 11_520  # bytes a second: 115200 baud


def run_through_guard(script, guard, rule, delays):
    """Writes ``script`` [(pause, bytes)] as the session does (a held "+" goes with the next write or
    at its release time); returns (what the module passed on as data, whether it escaped)."""
    loop = LogicalLoop()
    passed, escaped = bytearray(), []
    module = DataMode(loop, guard=guard, packet_size=1024, idle=0.02, on_data=passed.extend,
                      on_escape=lambda: escaped.append(loop.now), rule=rule)
    clock, pluses = LineClock(RATE), PlusGuard(guard)
    clock.restart(0.0)
    host, held, arrival, writes = 0.0, 0, 0.0, iter(delays)

    def write(data, at):
        nonlocal held, arrival
        data = b"+" * held + data
        start = max(at, clock.free)
        count = pluses.admit(data, at, clock)
        held = len(data) - count
        if count:  # on the wire byte by byte; delivered a little late, never out of order
            arrival = max(arrival, start + next(writes))
            for index, byte in enumerate(data[:count]):
                loop.run_until(arrival + (index + 1) / RATE)
                module.feed(bytes([byte]))
            arrival += count / RATE

    for pause, data in script:
        host += pause
        while held and pluses.release_at + FLUSH_DELAY <= host:
            write(b"", pluses.release_at + FLUSH_DELAY)
        write(data, host)
    while held:
        write(b"", pluses.release_at + FLUSH_DELAY)
    loop.run_until(max(host, clock.free) + 10 * guard + 1.0)
    module.flush()
    return bytes(passed), escaped


plus_runs = st.sampled_from([b"+", b"++", b"+++", b"++++", b"a", b"+a", b"a+", b"a+++", b"+++a"])


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from([0.0, 0.001, 0.3, 0.5, 1.0, 1.2, 3.0]), plus_runs), max_size=10),
       st.sampled_from([0.02, 0.05, 1.0]), st.sampled_from(["window", "packet"]),
       st.lists(st.floats(0, JITTER), min_size=40, max_size=40))
def test_no_run_of_plus_signs_in_the_payload_escapes_the_module(script, guard, rule, delays):
    script = [(pause * guard, data) for pause, data in script]  # pauses in guard times
    passed, escaped = run_through_guard(script, guard, rule, delays)
    assert not escaped
    assert passed == b"".join(data for _, data in script)


def test_a_lone_escape_in_the_payload_waits_one_window_for_its_last_plus():
    guard = 1.0
    clock, pluses = LineClock(RATE), PlusGuard(guard)
    clock.restart(0.0)
    assert pluses.admit(b"+++", 5.0, clock) == 2  # after a silence: the third "+" waits
    assert pluses.release_at == pytest.approx(5.0 + 2 / RATE + guard_silence(guard) + JITTER)
    assert pluses.admit(b"+", 5.5, clock) == 0  # still the window of the first two
    assert pluses.admit(b"+", pluses.release_at + FLUSH_DELAY, clock) == 1
    assert pluses.admit(b"ab", 10.0, clock) == 2
    assert pluses.admit(b"+++", clock.free, clock) == 2  # right behind other bytes, but a gap may open
    assert pluses.admit(b"ab+++", 20.0, clock) == 5 and pluses.admit(b"++++", 30.0, clock) == 4


def test_the_start_up_escape_keeps_the_guard_before_and_after():
    before, after = stale_escape_waits(DEFAULT_TIMING, 0.5)  # the unanswered probe went 0.5 s ago
    assert before == pytest.approx(guard_silence(1.0) - 0.5) and after == pytest.approx(guard_silence(1.0))
    assert stale_escape_waits((0.02, 1.0), 0.5) == (0.0, 1.0)  # ESP-AT: 1 s before the next command


def test_a_module_that_says_it_is_starting_is_spared_the_start_up_escape():
    async def run():
        engine, transport = engine_with_transport()
        probing = asyncio.ensure_future(engine.sync(attempts=3, timeout=0.2))
        await asyncio.sleep(0.01)
        engine.data_received(b"\r\nRDY\r\n")  # booting: the first AT was lost, not sent into a data mode
        while len(transport.written) < 2:
            await asyncio.sleep(0.01)
        engine.data_received(b"\r\nOK\r\n")
        await probing
        assert transport.written == [b"AT\r", b"AT\r"]  # no "+++"

    asyncio.run(run())
