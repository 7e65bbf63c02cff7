"""The engine's modes, without a modem: raw data on the channel (transparent / passthrough), the
hold that keeps the queue for one owner, completion callbacks that chain commands, and the
watchdog; plus the socket machine's table of allowed operations."""
import asyncio
import gc
import weakref

import pytest
from hypothesis import given, settings, strategies as st

from atsock.wire.atcmd import build, number
from atsock.wire.channel import ATChannel, Command, Final, Intermediate, RawData, RawEnd, RawSuspect, Urc
from atsock.wire.engine import Engine
from atsock.wire.rawline import RawLine
from atsock.errors import CommandTimeout
from atsock.core.lifecycle import SOCKET_OPERATIONS, Op, SocketLifecycle, SocketState
from atsock.wire.rawstream import RawWords

NO_CARRIER = b"\r\nNO CARRIER\r\n"
CONNECT = frozenset({"CONNECT"})


def transparent_channel():
    channel = ATChannel(urc_prefixes=("+QIURC:",))
    channel.begin(Command("AT+QISWTMD=0,2", extra_finals=CONNECT, raw_after=CONNECT, raw_words=RawWords((NO_CARRIER,))))
    return channel


def feed(channel, data, cuts):
    events = []
    points = sorted(set(c % (len(data) + 1) for c in cuts))
    for start, end in zip([0] + points, points + [len(data)]):
        events += channel.receive(data[start:end])
    return events


def raw_bytes(events):
    return b"".join(e.data for e in events if isinstance(e, RawData))


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=3000).filter(lambda d: NO_CARRIER not in d), st.lists(st.integers(0, 10_000), max_size=20))
def test_raw_data_comes_out_whole_however_the_stream_is_cut(data, cuts):
    stream = b"\r\nCONNECT\r\n" + data + NO_CARRIER + b'\r\n+QIURC: "recv",1\r\n'
    channel = transparent_channel()
    events = feed(channel, stream, cuts)
    assert events[0] == Final("CONNECT")
    assert raw_bytes(events) == data  # everything before the word, and nothing of it: it waits
    assert events[-1] == RawSuspect(NO_CARRIER)
    assert channel.resolve_raw() == [RawEnd(NO_CARRIER), Urc('+QIURC: "recv",1')]
    assert not channel.raw


def test_bytes_that_may_begin_the_ending_word_wait_for_the_next_ones():
    channel = transparent_channel()
    assert channel.receive(b"\r\nCONNECT\r\nabc\r\nNO CAR") == [Final("CONNECT"), RawData(b"abc")]
    assert channel.raw_held == len(b"\r\nNO CAR")
    assert channel.receive(b"S") == [RawData(b"\r\nNO CARS")]  # not the word after all
    channel.receive(b"\r\n")
    assert channel.release_held() == [RawData(b"\r\n")]  # nothing completed it in time: data
    assert channel.raw and channel.raw_held == 0


def test_a_word_only_suspends_the_data_and_the_last_word_ends_it():
    channel = transparent_channel()
    events = channel.receive(b"\r\nCONNECT\r\nhello" + NO_CARRIER + b"world")
    assert events == [Final("CONNECT"), RawData(b"hello"), RawSuspect(NO_CARRIER)]
    assert channel.raw_suspended and channel.raw_held == 0
    assert channel.release_held() == []  # held for the proof, not for a short while
    channel.expect_raw_end(b"\r\nOK\r\n")  # "+++" went out
    assert channel.receive(b" and more\r\nOK\r\n\r\n+QIURC: x\r\n") == [RawSuspect(b"\r\nOK\r\n")]  # (when: it tells)
    assert channel.raw_end() == b"\r\nOK\r\n"
    events = channel.resolve_raw()  # the escape's answer is the module's: all before it is data
    assert raw_bytes(events) == NO_CARRIER.join([b"", b"world and more"])
    assert events[-2:] == [RawEnd(b"\r\nOK\r\n"), Urc("+QIURC: x")]
    assert not channel.raw


def test_an_answer_word_counts_only_once_the_escape_went_out():
    channel = transparent_channel()
    events = channel.receive(b"\r\nCONNECT\r\n\r\nOK\r\n")
    assert raw_bytes(events) == b"\r\nOK"  # before the escape, OK is the peer's data (CR LF may begin
    channel.expect_raw_end(b"\r\nOK\r\n")    # NO CARRIER: held)
    assert channel.receive(b"more\r\nOK\r\n\r\n+QIURC: x\r\n") == [RawData(b"\r\nmore"), RawSuspect(b"\r\nOK\r\n")]
    assert channel.resolve_raw() == [RawEnd(b"\r\nOK\r\n"), Urc("+QIURC: x")]
    assert not channel.raw


def test_every_answer_is_told_while_held_and_one_that_came_too_early_can_be_set_aside():
    channel = transparent_channel()
    channel.receive(b"\r\nCONNECT\r\nab" + NO_CARRIER)
    channel.expect_raw_end(b"\r\nOK\r\n")
    assert channel.receive(b"cd\r\nOK\r\nef") == [RawSuspect(b"\r\nOK\r\n")]  # the session notes when
    assert channel.receive(b"\r\nOK\r\n") == [RawSuspect(b"\r\nOK\r\n")]
    assert channel.receive(b"gh") == []
    assert channel.raw_end(answered=False) == NO_CARRIER  # the answers came before the module's could
    events = channel.resolve_raw(answered=False)
    assert events[0] == RawEnd(NO_CARRIER) and channel.receive(b"") == [] and not channel.raw


def test_a_word_with_bytes_no_module_prints_after_it_is_not_where_the_mode_ended():
    channel = transparent_channel()
    channel.receive(b"\r\nCONNECT\r\nab" + NO_CARRIER + b"\x00\xff binary")
    channel.expect_raw_end(b"\r\nOK\r\n")
    assert channel.raw_end() is None and channel.resolve_raw() == []  # the module still passes data on
    channel.receive(b"\r\nOK\r\n")
    events = channel.resolve_raw()
    assert raw_bytes(events) == NO_CARRIER + b"\x00\xff binary" and events[-1] == RawEnd(b"\r\nOK\r\n")


def test_a_restart_word_ends_the_data_and_is_read_as_the_module_notice_it_is():
    channel = ATChannel(urc_prefixes=("RDY",))
    channel.begin(Command("AT+QISWTMD=0,2", extra_finals=CONNECT, raw_after=CONNECT,
                          raw_words=RawWords((NO_CARRIER,), restarts=(b"\r\nRDY\r\n",))))
    events = channel.receive(b"\r\nCONNECT\r\ndata\r\nRDY\r\n\r\n+CFUN: 1\r\n")
    assert events[-1] == RawSuspect(b"\r\nRDY\r\n")
    assert channel.resolve_raw() == [RawEnd(b"\r\nRDY\r\n"), Urc("RDY"), Urc("+CFUN: 1")]


def test_nothing_to_resolve_without_a_word():
    channel = ATChannel(terminator=b"\r\n")
    channel.begin(Command("AT+CIPSEND", not_final=frozenset({"OK"}), raw_after_prompt=True,
                          raw_words=RawWords((b"CLOSED\r\n",))))
    assert channel.receive(b"\r\nOK\r\n\r\n>hello CL") == [Intermediate("OK"), Final(">"), RawData(b"hello ")]
    assert channel.resolve_raw() == [] and channel.raw  # the escape was not taken: still raw
    assert channel.release_held() == [RawData(b"CL")]


WORDS = [b"\r\nNO CARRIER\r\n", b"\r\nOK\r\n", b"+", b"\r\n", b"OK", b"NO CARRIER", b"\r\nRDY\r\n"]
peer_bytes = st.lists(st.one_of(st.sampled_from(WORDS), st.binary(max_size=20)), max_size=12).map(b"".join)
module_text = st.lists(st.sampled_from([b'+QIURC: "recv",1', b"+CFUN: 1", b'+QIURC: "pdpdeact",1']), max_size=3)


@settings(max_examples=300, deadline=None)
@given(peer_bytes, peer_bytes, st.sampled_from(["escaped", "closed"]), module_text, st.lists(st.integers(0, 10_000),
                                                                                           max_size=8))
def test_the_held_bytes_are_cut_at_the_module_own_word(before, after, how, lines, cuts):
    """Whatever the peer sent (the module's words included), the module's word that ended the mode
    is found, so the data is exactly the peer's and the module's text after it is read as lines.
    The escape goes out after ``before``; a module that left for it answers OK, one that had left
    by itself (the peer closed) printed NO CARRIER and answers nothing."""
    word = b"\r\nOK\r\n" if how == "escaped" else NO_CARRIER
    channel = transparent_channel()
    channel.receive(b"\r\nCONNECT\r\n")
    events = feed(channel, before, cuts)
    channel.expect_raw_end(b"\r\nOK\r\n")
    tail = after + word + b"".join(b"\r\n" + line + b"\r\n" for line in lines)
    events += feed(channel, tail, cuts) + channel.release_held()
    assert channel.raw_end() == word
    events += channel.resolve_raw()
    assert raw_bytes(events) == before + after
    assert [e for e in events if not isinstance(e, (RawData, RawSuspect))] == \
        [RawEnd(word)] + [Urc(line.decode()) for line in lines]


class FakeTransport:
    def __init__(self):
        self.written = []

    def write(self, data):
        self.written.append(bytes(data))

    def get_write_buffer_size(self):
        return 0

    def get_extra_info(self, name, default=None):
        return default

    def close(self):
        pass


def engine_with_transport():
    engine = Engine(ATChannel())
    transport = FakeTransport()
    engine.connection_made(transport)
    return engine, transport


def test_a_completion_callback_queues_the_next_command_in_the_same_wake_up():
    async def run():
        engine, transport = engine_with_transport()
        answers = []

        def done(response, error):
            answers.append(response.final.text)
            if len(answers) < 3:
                engine.submit(build("AT+NEXT"), on_done=done, timeout=1.0)

        engine.submit(build("AT+FIRST"), on_done=done, timeout=1.0)
        for expected in (b"AT+FIRST\r", b"AT+NEXT\r", b"AT+NEXT\r"):
            assert transport.written[-1] == expected
            engine.data_received(b"\r\nOK\r\n")  # the answer, and within this call the next command
        assert answers == ["OK", "OK", "OK"]
        assert len(transport.written) == 3

    asyncio.run(run())


def test_a_chain_builds_the_command_it_repeats_once_and_the_engine_keeps_none_after_it():
    async def run():
        engine, transport = engine_with_transport()
        lengths = [1460, 1460, 1460, 312]  # a send's chunks: one full length repeated, then a one-off
        handles = []

        def send(response=None, error=None):
            if len(handles) < len(lengths):
                text = build("AT+QISEND", number(0, 0, 11), number(lengths[len(handles)], 1, 1460))
                handles.append(engine.submit(text, on_done=send, timeout=1.0))

        send()
        while len(transport.written) < len(lengths):
            engine.data_received(b"\r\nOK\r\n")
        engine.data_received(b"\r\nOK\r\n")
        commands = [handle.command for handle in handles]
        assert [command.text for command in commands] == [f"AT+QISEND=0,{n}" for n in lengths]
        assert commands[0] is commands[1] is commands[2] and commands[3] is not commands[0]
        kept = [weakref.ref(command) for command in commands]
        del commands, handles
        gc.collect()
        assert [ref() for ref in kept] == [None] * len(kept)  # else every send length ever used stays

    asyncio.run(run())


def test_a_held_engine_runs_only_its_holders_commands_and_raw_data_stops_all():
    async def run():
        engine, transport = engine_with_transport()
        holder = object()
        received, ended, suspected = [], [], []
        engine.hold(holder)
        other = asyncio.ensure_future(engine.command(build("AT+OTHER"), timeout=1.0))
        await asyncio.sleep(0)
        assert transport.written == []  # queued behind the hold
        mine = asyncio.ensure_future(engine.command(
            build("AT+QISWTMD"), timeout=1.0, owner=holder, check=False, extra_finals=CONNECT, raw_after=CONNECT,
            raw=RawLine(received.append, ended.append, suspected.append), raw_words=RawWords((NO_CARRIER,))))
        await asyncio.sleep(0)
        assert transport.written == [b"AT+QISWTMD\r"]
        engine.data_received(b"\r\nCONNECT\r\npayload")
        assert (await mine).final.text == "CONNECT"
        assert engine.raw and received == [b"payload"]
        engine.release(holder)
        await asyncio.sleep(0)
        assert transport.written == [b"AT+QISWTMD\r"]  # raw data: still nothing else goes out
        engine.data_received(b"\r\nOK\r\n" + NO_CARRIER)
        assert received == [b"payload", b"\r\nOK\r\n"] and suspected == [NO_CARRIER] and ended == []
        assert engine.raw_suspended and transport.written == [b"AT+QISWTMD\r"]  # a suspicion changes nothing yet
        assert engine.resolve_raw()  # the holder proved it (atsock.core.transparent): the mode ended there
        assert ended == [NO_CARRIER]
        assert transport.written[-1] == b"AT+OTHER\r"
        engine.data_received(b"\r\nOK\r\n")
        assert (await other).final.ok

    asyncio.run(run())


def test_one_watchdog_times_out_the_command_in_flight():
    async def run():
        engine, transport = engine_with_transport()
        with pytest.raises(CommandTimeout):
            await engine.command(build("AT+SLOW"), timeout=0.05)
        answer = asyncio.ensure_future(engine.command(build("AT+QUICK"), timeout=0.05))
        await asyncio.sleep(0.01)
        engine.data_received(b"\r\nOK\r\n")  # the probe that follows a lost final
        await asyncio.sleep(0)
        engine.data_received(b"\r\nOK\r\n")
        assert (await answer).final.ok

    asyncio.run(run())


def test_the_table_of_allowed_operations_agrees_with_the_machine():
    for state in SocketState:
        life = SocketLifecycle()
        life.machine.set_state(state)
        for op in Op:
            assert life.allows(op) == life.can(op.value) == (state in SOCKET_OPERATIONS[op])
