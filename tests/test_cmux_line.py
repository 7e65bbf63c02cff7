"""The multiplexer under the AT engines (atsock/wire/cmux/line.py), on a fake serial transport: what it
writes for each step, how it holds a stopped channel's bytes, and how it gives the line back."""
import asyncio

import pytest

from atsock.wire.channel import ATChannel
from atsock.wire.cmux.control import Message, Signals, Type, msc
from atsock.wire.cmux.frames import Frame, FrameReader, Kind, encode
from atsock.wire.cmux.line import AT_DLCI, PORT_QUEUE, SLICE, MuxLine, MuxRefused
from atsock.wire.engine import Engine
from atsock.wire.atcmd import build
from modems.quectel import QuectelDialect


class FakeSerial(asyncio.Transport):
    def __init__(self, baudrate=None):
        super().__init__()
        self.written = bytearray()
        self.closed = False
        self.baudrate = baudrate

    def write(self, data):
        self.written += data

    def take_frames(self):
        frames = FrameReader().feed(bytes(self.written))
        self.written.clear()
        return frames

    def get_write_buffer_size(self):
        return 0

    def get_extra_info(self, name, default=None):
        return self if name == "serial" and self.baudrate else default  # (pyserial's Serial has baudrate)

    def close(self):
        self.closed = True


def module(*frames):
    return b"".join(encode(f) for f in frames)


def ua(dlci):
    return Frame(dlci, Kind.UA, cr=True, pf=True)


def control(message):
    return Frame(0, Kind.UIH, message.encode(), cr=False)


async def settle():
    for _ in range(5):
        await asyncio.sleep(0)


async def multiplexed(monkeypatch, channel=None, baudrate=None):
    """A line whose module answers every SABM at once: (line, serial, engine)."""
    monkeypatch.setattr("atsock.wire.cmux.line.ENTRY_PAUSE", 0)
    engine = Engine(channel or ATChannel())
    line = MuxLine(engine, boot_words=(b"RDY",))
    serial = FakeSerial(baudrate)
    line.connection_made(serial)
    start = asyncio.ensure_future(line.start())
    for dlci in (0, AT_DLCI):
        await settle()
        assert serial.take_frames() == [Frame(dlci, Kind.SABM, pf=True)]
        line.data_received(module(ua(dlci)))
    await start
    return line, serial, engine


async def data_channel(line, serial):
    """DLCI 2 opened for an engine of its own (what it took to open it read off the port)."""
    other = Engine(ATChannel())
    opening = asyncio.ensure_future(line.open_channel(2, other))
    await settle()
    line.data_received(module(ua(2)))
    await opening
    serial.take_frames()
    return other


def run(coro):
    return asyncio.run(coro)


def test_the_engine_talks_through_dlci_1_once_multiplexed(monkeypatch):
    async def body():
        line, serial, engine = await multiplexed(monkeypatch)
        command = asyncio.ensure_future(engine.command(build("AT+CSQ"), timeout=5, response_prefixes=("+CSQ:",)))
        await settle()
        assert serial.take_frames() == [Frame(1, Kind.UIH, b"AT+CSQ\r")]
        line.data_received(module(Frame(1, Kind.UIH, b"\r\n+CSQ: 19,", cr=False),
                                  Frame(1, Kind.UIH, b"99\r\n\r\nOK\r\n", cr=False, pf=True)))
        response = await command
        assert response.values("+CSQ:") == ["19,99"]
    run(body())


def test_a_stopped_channel_holds_its_bytes_until_the_module_lets_them_go(monkeypatch):
    async def body():
        line, serial, engine = await multiplexed(monkeypatch)
        line.data_received(module(control(msc(1, Signals(fc=True)))))
        assert serial.take_frames() == [Frame(0, Kind.UIH, msc(1, Signals(fc=True)).answer().encode())]
        command = asyncio.ensure_future(engine.command(build("AT"), timeout=5))
        await settle()
        assert serial.take_frames() == []  # held
        line.data_received(module(control(Message(Type.FCOFF, True))))
        line.data_received(module(control(msc(1, Signals()))))
        assert all(f.dlci == 0 for f in serial.take_frames())  # answers only: FCoff still holds DLCI 1
        line.data_received(module(control(Message(Type.FCON, True))))
        frames = serial.take_frames()
        assert Frame(1, Kind.UIH, b"AT\r") in frames
        line.data_received(module(Frame(1, Kind.UIH, b"\r\nOK\r\n", cr=False)))
        assert (await command).final.ok
    run(body())


def test_a_channel_that_holds_too_much_pauses_its_writer(monkeypatch):
    async def body():
        line, serial, engine = await multiplexed(monkeypatch)
        line.data_received(module(control(msc(1, Signals(fc=True)))))
        channel = engine.transport
        channel.write(b"x" * 70000)
        assert channel.held and engine._writable is not None and not engine._writable.is_set()
        line.data_received(module(control(msc(1, Signals()))))
        assert not channel.held and engine._writable.is_set()
        frames = [f for f in serial.take_frames() if f.dlci == 1]
        assert sum(len(f.info) for f in frames) == 70000 and max(len(f.info) for f in frames) == 127
    run(body())


def test_close_down_disconnects_and_hands_the_line_back(monkeypatch):
    async def body():
        line, serial, engine = await multiplexed(monkeypatch)
        closing = asyncio.ensure_future(line.close_down())
        await settle()
        assert serial.take_frames() == [Frame(1, Kind.DISC, pf=True)]
        line.data_received(module(ua(1)))
        await settle()
        assert serial.take_frames() == [Frame(0, Kind.UIH, Message(Type.CLD, True).encode())]
        line.data_received(module(Frame(0, Kind.UIH, Message(Type.CLD, False).encode(), cr=False)))
        await closing
        assert not line.multiplexed and engine.transport is serial
        line.data_received(b"\r\nRDY\r\n")  # plain AT reaches the engine again
    run(body())


def test_a_module_that_restarts_gives_the_line_back_to_plain_at(monkeypatch):
    async def body():
        line, serial, engine = await multiplexed(monkeypatch)
        heard = []
        engine.on_urc("RDY", heard.append)
        line.data_received(b"\r\nRDY\r\n")
        assert not line.multiplexed and engine.transport is serial
        assert [urc.text for urc in heard] == ["RDY"]
    run(body())


def test_no_leftover_multiplexer_when_nothing_answers(monkeypatch):
    async def body():
        monkeypatch.setattr("atsock.wire.cmux.line.ACK_TIMEOUT", 0.01)
        engine = Engine(ATChannel())
        line = MuxLine(engine)
        serial = FakeSerial()
        line.connection_made(serial)
        assert await line.leave_leftover() is False
        assert serial.take_frames() == [Frame(0, Kind.SABM, pf=True)] * 2
        assert not line.multiplexed and engine.transport is serial
    run(body())


def test_a_refused_channel_raises(monkeypatch):
    async def body():
        line, serial, engine = await multiplexed(monkeypatch)
        other = Engine(ATChannel())
        opening = asyncio.ensure_future(line.open_channel(5, other))
        await settle()
        line.data_received(module(Frame(5, Kind.DM, cr=True, pf=True)))
        with pytest.raises(MuxRefused):
            await opening
    run(body())


def test_read_pacing_hints_pass_through_while_one_channel_carries_anything(monkeypatch):
    async def body():
        hints = []
        line, serial, engine = await multiplexed(monkeypatch, ATChannel(payload_rules=QuectelDialect.payload_rules))
        serial.expect = hints.append
        line.data_received(module(Frame(1, Kind.UIH, b"\r\n+QIRD: 1500\r\n" + bytes(100), cr=False)))
        assert hints[-1] == 1400  # the payload's bytes still to come
        other = Engine(ATChannel())
        opening = asyncio.ensure_future(line.open_channel(2, other))
        await settle()
        line.data_received(module(ua(2)))
        await opening
        line.data_received(module(Frame(1, Kind.UIH, bytes(100), cr=False)))
        assert hints[-1] is None  # DLCI 2 might bring bytes meanwhile: no pause
    run(body())


def test_commands_go_before_the_data_channels_backlog(monkeypatch):
    async def body():
        line, serial, engine = await multiplexed(monkeypatch)
        held = []  # what the port has not taken: it drains only when told
        serial.write = lambda data: (serial.written.extend(data), held.append(len(data)))
        serial.get_write_buffer_size = lambda: sum(held)
        other = await data_channel(line, serial)
        held.clear()
        other.transport.write(bytes(100_000))       # a data channel's burst
        data = sum(len(f.info) for f in serial.take_frames())
        assert 0 < data <= PORT_QUEUE + SLICE      # the rest waits in its channel
        command = asyncio.ensure_future(engine.command(build("AT"), timeout=5))
        await settle()
        assert Frame(1, Kind.UIH, b"AT\r") in serial.take_frames()  # at once, behind only what the port holds
        held.clear()
        line.resume_writing()                       # the port has room again: the next slices
        assert sum(len(f.info) for f in serial.take_frames() if f.dlci == 2) > 0
        line.data_received(module(Frame(1, Kind.UIH, b"\r\nOK\r\n", cr=False)))
        assert (await command).final.ok
    run(body())


def test_a_port_that_takes_everything_gets_data_as_the_line_carries_it(monkeypatch):
    """A pty or a USB adapter takes tens of KiB at once and says nothing of them: the line's clock
    (its baud rate) keeps data channels to about PORT_QUEUE bytes ahead, so a command waits behind
    those, and the next slices go as the line carries the first ones."""
    async def body():
        line, serial, engine = await multiplexed(monkeypatch, baudrate=921600)
        other = await data_channel(line, serial)
        other.transport.write(bytes(100_000))
        first = sum(len(f.info) for f in serial.take_frames())
        assert 0 < first <= PORT_QUEUE + SLICE  # the port would have taken all of it
        command = asyncio.ensure_future(engine.command(build("AT"), timeout=5))
        await settle()
        assert Frame(1, Kind.UIH, b"AT\r") in serial.take_frames()
        later = 0
        for _ in range(500):  # the port never says it has room: the clock alone lets more go
            await asyncio.sleep(0.01)
            later += sum(len(f.info) for f in serial.take_frames() if f.dlci == 2)
            if later > PORT_QUEUE + SLICE:
                break
        assert later > PORT_QUEUE + SLICE
        line.data_received(module(Frame(1, Kind.UIH, b"\r\nOK\r\n", cr=False)))
        assert (await command).final.ok
    run(body())
