"""The serial port's protocol when the line may be multiplexed: the only place where the
multiplexer meets asyncio.

:class:`MuxLine` sits between the transport and the AT engines. Until the module has taken
``AT+CMUX`` (and again after the close-down) the line is plain: bytes pass straight between the
port and the AT engine, which then writes to the port itself. While multiplexed, every engine has
a :class:`ChannelTransport` of its own, one per DLC: the AT engine (commands and notices) on DLC 1,
one more per socket in data mode. What an engine writes goes out in UIH frames; what the module
sends on a DLC reaches that engine's ``data_received`` as plain bytes, so the AT channel above
parses exactly what it would parse on a plain UART.

Writing: commands and notices (DLCIs 0, 1) go out at once; data channels take turns, a slice each,
while little waits to leave (in the port's buffer, and by the line's clock: the OS takes far more
than the line carries at once, a pty or a USB adapter tens of KiB), so that a command waits behind
about ``PORT_QUEUE`` bytes, not behind every channel's backlog. (A line faster than its baud rate,
a module on USB, is then held to that rate: give the real one.) A channel the module stopped (MSC, FCoff) keeps its bytes; one
that keeps too many pauses its engine's writers. Each channel's last byte is timed on the shared
line's clock, for data mode's silences.

Timers live here, not in :mod:`atsock.wire.cmux.mux`: an open or close that stays unanswered for
``ACK_TIMEOUT`` is sent again, up to ``ATTEMPTS`` times in all (T1 and N2 of cmux.md §2.2, with
room for a loaded host). A module that starts talking plain text while multiplexed (its boot
words: it restarted, and a restarted module is in plain AT mode) gets the line back as plain, and
the AT engine hears those words as it would without CMUX (the dialect's restart handling).
"""
import asyncio
import dataclasses
import logging
from collections import Counter
from typing import Callable, Dict, Iterable, Optional

from ..escape import LineClock
from .control import Message, Signals, Type
from .frames import DEFAULT_N1, FLAG, FrameReader
from .mux import (CONTROL, Answered, Closed, ClosedDown, Data, FlowChanged, Multiplexer, NotSupported, Opened,
                  Refused, State, StatusReceived)

log = logging.getLogger("atsock.cmux")

ACK_TIMEOUT = 1.0   # seconds for a UA (or a control response) before the command goes again
ATTEMPTS = 3
ENTRY_PAUSE = 0.3   # after AT+CMUX's OK: a BG95 deadlocks on a SABM within 100 ms (cmux.md §7.1)
AT_DLCI = 1         # the AT engine's channel: commands and notices (AT+QCFG="cmux/urcport",1)
HOLD_HIGH = 65536   # bytes a channel holds before its engine is asked to pause writing
HOLD_LOW = 16384
PORT_QUEUE = 2048   # bytes of data channels' frames let wait to leave: a command goes behind at
                    # most these, not behind every channel's backlog
SLICE = 4 * DEFAULT_N1  # a data channel's turn: then the next channel's


class MuxRefused(OSError):
    """The module would not open a channel, or did not answer the multiplexer at all."""


class ChannelTransport(asyncio.Transport):
    """One DLC as an asyncio transport for an engine. Writes wait here while the module has stopped
    the channel (MSC, FCoff), while it is not open yet, or, for a data channel, until the port has
    room (:meth:`MuxLine.pump`); above ``HOLD_HIGH`` bytes waiting, the engine is asked to pause,
    as a transport asks when its buffer fills."""

    def __init__(self, line: "MuxLine", dlci: int, protocol: asyncio.Protocol):
        super().__init__()
        self._line = line
        self.dlci = dlci
        self._protocol = protocol
        self._pending = bytearray()
        self._closing = False
        self.held = False  # the engine was asked to pause because of this channel's own backlog
        self.leaves_at = 0.0  # when this channel's last byte will have left the port

    def write(self, data) -> None:
        if self._closing:
            return
        self._pending += data
        self._line.pump(self)

    def take(self, mux: Multiplexer, limit: Optional[int] = None) -> bytes:
        """Frames for what waits (at most ``limit`` bytes of it), if the channel may send now."""
        if not self._pending or not mux.can_send(self.dlci):
            return b""
        count = len(self._pending) if limit is None else min(limit, len(self._pending))
        mux.send(self.dlci, bytes(self._pending[:count]))
        del self._pending[:count]
        return mux.data_to_send()

    def check_backlog(self) -> None:
        waiting = len(self._pending)
        if waiting > HOLD_HIGH and not self.held:
            self.held = True
            self._protocol.pause_writing()
        elif waiting <= HOLD_LOW and self.held:
            self.held = False
            self._protocol.resume_writing()

    def brake(self, on: bool) -> None:
        """Ask the module to hold (or to go on with) what it sends on this channel: an MSC with FC
        set (or clear). Bytes already on their way still come."""
        self._line.signals(self.dlci, Signals(fc=on))

    def expect(self, due: Optional[int]) -> None:
        """The engine's hint that ``due`` more bytes of a frame are certain to come (see
        :meth:`atsock.wire.transport.DescriptorTransport.expect`): passed on to the port while this is
        the only channel that carries anything."""
        self._line.expect(self, due)

    def get_write_buffer_size(self) -> int:
        """What waits here and what the port has not taken yet (its bytes may be another channel's:
        the line is one, and this is what stands before this channel's next byte)."""
        return len(self._pending) + self._line.serial_backlog()

    def get_extra_info(self, name, default=None):
        return self._line.serial.get_extra_info(name, default) if self._line.serial is not None else default

    def is_closing(self) -> bool:
        return self._closing

    def close(self) -> None:
        """The engine is done with the channel (the DLC closes with the multiplexer)."""
        self._closing = True

    def get_protocol(self):
        return self._protocol


class MuxLine(asyncio.Protocol):
    """``engine`` is the AT engine (commands and notices); ``boot_words`` the module's own lines
    after a restart (``RDY``), which tell that it left the multiplexer behind."""

    def __init__(self, engine, boot_words: Iterable[bytes] = ()):
        self.engine = engine
        self.boot_words = tuple(boot_words)
        self.serial: Optional[asyncio.Transport] = None
        self.mux: Optional[Multiplexer] = None
        self._channels: Dict[int, ChannelTransport] = {}
        self.clock = LineClock(None)  # when the last byte written to the port will have left it
        self._waiting: Dict[object, asyncio.Future] = {}
        self._paused = False
        self._refill: Optional[asyncio.TimerHandle] = None  # data channels go on once the line has carried some
        self._totals: Counter = Counter()  # counters of multiplexers that ended
        self._sniffer: Optional[FrameReader] = None  # frames looked for on the plain line (start-up)

    def stats(self) -> dict:
        """Frames and octets both ways, and what the reader dropped, over every session."""
        totals = Counter(self._totals)
        if self.mux is not None:
            totals.update(_counters(self.mux))
        return dict(totals)

    @property
    def multiplexed(self) -> bool:
        return self.mux is not None

    # --- asyncio.Protocol (the serial port's side) --------------------------------------------
    def connection_made(self, transport) -> None:
        self.serial = transport
        rate = getattr(transport.get_extra_info("serial"), "baudrate", None)
        self.clock = LineClock(rate / 10 if rate else None)  # 10 bits a byte
        self.mux = None
        self._channels.clear()
        self.engine.connection_made(transport)  # plain until AT+CMUX

    def data_received(self, data: bytes) -> None:
        if self.mux is None:
            if self._sniffer is not None and FLAG in data:
                self._sniffer.feed(data)
            self.engine.data_received(data)
        else:
            self._frames(data)

    def connection_lost(self, exc) -> None:
        engines = [channel.get_protocol() for channel in self._channels.values()]
        self.mux = None
        self._channels.clear()
        for future in self._waiting.values():
            if not future.done():
                future.set_exception(MuxRefused(5, "the serial port closed"))  # EIO
        for engine in engines:
            if engine is not self.engine:
                engine.connection_lost(exc)
        self.engine.connection_lost(exc)

    def pause_writing(self) -> None:
        """The port's buffer is full: plain, the engine waits; multiplexed, the data channels'
        frames do (each channel holds its bytes, and pauses its own engine when they are many)."""
        self._paused = True
        if self.mux is None:
            self.engine.pause_writing()

    def resume_writing(self) -> None:
        self._paused = False
        if self.mux is None:
            self.engine.resume_writing()
        else:
            self._schedule()

    def expect(self, channel: ChannelTransport, due: Optional[int]) -> None:
        """Read pacing through the multiplexer: the port may stop listening until ``due`` bytes of
        ``channel``'s can be there (fewer on the line than with their frames: a pause on the short
        side), but only while no other channel has anything that might come meanwhile."""
        hint = getattr(self.serial, "expect", None)
        if hint is None:
            return
        if due and any(other is not channel for other in self._channels.values()):
            due = None  # another channel's bytes could be waiting: read on arrival
        hint(due)

    def signals(self, dlci: int, signals: Signals) -> None:
        """Our MSC for ``dlci``."""
        if self.mux is not None and self.mux.state(CONTROL) is State.OPEN and not self.mux.closed_down:
            self.mux.signals(dlci, signals)
            self._flush()

    def serial_backlog(self) -> int:
        return self.serial.get_write_buffer_size() if self.serial is not None else 0

    def close(self) -> None:
        """Close the port (the multiplexer, if any, should have been closed down first)."""
        if self.serial is not None:
            self.serial.close()

    # --- into and out of CMUX -----------------------------------------------------------------
    async def start(self, n1: int = DEFAULT_N1) -> None:
        """The module has answered ``AT+CMUX`` with OK: frames from now on. Opens the control
        channel and the AT engine's DLC and moves the engine onto it."""
        self._begin(n1)
        self._attach(AT_DLCI, self.engine)  # what the engine writes waits until the channel is open
        await asyncio.sleep(ENTRY_PAUSE)
        try:
            await self._open(CONTROL)
            await self._open(AT_DLCI)
        except BaseException:
            self._plain()
            raise
        log.info("line multiplexed (CMUX basic option, N1 %d); AT on DLCI %d", n1, AT_DLCI)

    def listen_for_frames(self) -> None:
        """Look for frames among what the plain line brings, until :meth:`frames_heard` is asked
        (a module still multiplexing for a host that died may still be answering it)."""
        self._sniffer = FrameReader()

    def frames_heard(self) -> bool:
        """Whether frames came since :meth:`listen_for_frames`; stops looking."""
        heard = self._sniffer is not None and self._sniffer.stats.frames > 0
        self._sniffer = None
        return heard

    async def leave_leftover(self, n1: int = DEFAULT_N1) -> bool:
        """A module a host left multiplexed (it died without closing down) stays so (cmux.md §13.3):
        a SABM on DLCI 0 that is answered UA tells, and a close-down takes it back to plain AT. True
        if there was one."""
        self._begin(n1)
        try:
            await self._open(CONTROL, attempts=2)
        except MuxRefused:  # no answer, DM, or plain text: the module is in plain AT mode
            self._plain()
            return False
        log.info("the module was still multiplexed (an earlier session did not close down): closing it down")
        await self.close_down()
        return True

    async def close_down(self) -> None:
        """Close every data channel, then the multiplexer (CLD, answered with CLD): the module is
        in plain AT mode again, and so is the line."""
        if self.mux is None:
            return
        try:
            for dlci in sorted(self._channels, reverse=True):
                await self._close(dlci)
            if not self.mux.closed_down:
                await self._exchange(("answer", Type.CLD), self.mux.close_down)
        except MuxRefused as exc:
            log.warning("the module did not answer the close-down of CMUX (%s): it may still be multiplexed", exc)
        finally:
            self._plain()

    def _begin(self, n1: int) -> None:
        self.mux = Multiplexer(n1)
        self._channels.clear()
        self._port_queue(PORT_QUEUE)

    def _plain(self) -> None:
        """Back to plain AT: the engine writes to the port again."""
        if self.mux is not None:
            self._totals.update(_counters(self.mux))
        self.mux = None
        self._channels.clear()
        if self.serial is not None:
            self._port_queue(None)
            self.engine.connection_made(self.serial)

    def _port_queue(self, high: Optional[int]) -> None:
        """How much the port's buffer may hold before it says so (None: its own default)."""
        try:
            self.serial.set_write_buffer_limits(high=high)
        except (AttributeError, NotImplementedError):
            pass  # a transport without limits: data channels go on as the port takes them

    # --- channels -----------------------------------------------------------------------------
    async def open_channel(self, dlci: int, protocol: asyncio.Protocol) -> ChannelTransport:
        """Open ``dlci`` for ``protocol`` (an engine), which gets its transport at once (writes
        wait until the module answered); MuxRefused if the module does not offer it."""
        if self.mux is None:
            raise MuxRefused(5, "the line is not multiplexed")
        transport = self._attach(dlci, protocol)
        try:
            await self._open(dlci)
        except BaseException:
            self._channels.pop(dlci, None)
            raise
        return transport

    def carries(self, dlci: int, protocol: asyncio.Protocol) -> bool:
        """Whether ``dlci`` is open and ``protocol``'s."""
        channel = self._channels.get(dlci)
        return (channel is not None and channel.get_protocol() is protocol and self.mux is not None
                and self.mux.state(dlci) is State.OPEN)

    @property
    def n1(self) -> int:
        return self.mux.n1 if self.mux is not None else DEFAULT_N1

    def _attach(self, dlci: int, protocol: asyncio.Protocol) -> ChannelTransport:
        transport = self._channels[dlci] = ChannelTransport(self, dlci, protocol)
        protocol.connection_made(transport)
        return transport

    async def _open(self, dlci: int, attempts: int = ATTEMPTS) -> None:
        opened = await self._exchange(("open", dlci), lambda: self.mux.open(dlci), attempts)
        if not opened:
            raise MuxRefused(111, f"the module refused CMUX channel {dlci} (DM)")  # ECONNREFUSED

    async def _close(self, dlci: int) -> None:
        if self.mux.state(dlci) is not State.CLOSED:
            await self._exchange(("close", dlci), lambda: self.mux.close(dlci))
        self._channels.pop(dlci, None)

    async def _exchange(self, key, send: Callable[[], None], attempts: int = ATTEMPTS):
        """``send()`` until the event ``key`` names resolves the wait, ``attempts`` times."""
        loop = asyncio.get_running_loop()
        for _ in range(attempts):
            if self.mux is None:
                raise MuxRefused(5, "the line is not multiplexed any more")  # EIO
            future = self._waiting[key] = loop.create_future()
            send()
            self._flush()
            try:
                return await asyncio.wait_for(asyncio.shield(future), ACK_TIMEOUT)
            except asyncio.TimeoutError:
                continue
            finally:
                self._waiting.pop(key, None)
        raise MuxRefused(110, f"no answer from the module to CMUX {key[0]} {key[1]}")  # ETIMEDOUT

    def _resolve(self, key, value) -> None:
        future = self._waiting.get(key)
        if future is not None and not future.done():
            future.set_result(value)

    # --- frames -------------------------------------------------------------------------------
    def pump(self, channel: ChannelTransport) -> None:
        """A channel has bytes to send. Commands and notices (DLCIs 0, 1) go at once, whole; data
        channels take turns, a slice each, while little waits to leave (:meth:`_schedule`)."""
        if self.mux is None or self.serial is None:
            return
        if channel.dlci <= AT_DLCI:
            self._send_from(channel)
        else:
            self._schedule()
        channel.check_backlog()

    def _schedule(self) -> None:
        mux = self.mux
        if mux is None or self.serial is None:
            return
        data = [channel for dlci, channel in sorted(self._channels.items()) if dlci > AT_DLCI]
        for channel in self._channels.values():
            if channel.dlci <= AT_DLCI:
                self._send_from(channel)
        sent = True
        while sent and not self._paused and self._queued() < PORT_QUEUE:
            sent = any([self._send_from(channel, SLICE) for channel in data])
        if sent and not self._paused and self._refill is None and self.clock.rate:
            # the clock stopped them: again once half of what waits has left
            self._refill = asyncio.get_running_loop().call_later(PORT_QUEUE / 2 / self.clock.rate, self._refilled)
        for channel in list(self._channels.values()):
            channel.check_backlog()

    def _queued(self) -> int:
        """Bytes written that have not left: in the port's buffer, or, by the line's clock, in the
        OS's (a pty or a USB adapter takes tens of KiB at once, and says nothing of them)."""
        ahead = (self.clock.free - asyncio.get_running_loop().time()) * self.clock.rate if self.clock.rate else 0
        return max(self.serial_backlog(), int(ahead))

    def _refilled(self) -> None:
        self._refill = None
        self._schedule()

    def _send_from(self, channel: ChannelTransport, limit: Optional[int] = None) -> bool:
        frames = channel.take(self.mux, limit)
        if frames:
            channel.leaves_at = self._send(frames)
        return bool(frames)

    def _flush(self) -> None:
        out = self.mux.data_to_send() if self.mux is not None else b""
        if out and self.serial is not None:
            self._send(out)

    def _send(self, data: bytes) -> float:
        """Write to the port; returns when the last of it will have left (the shared line's clock)."""
        self.serial.write(data)
        return self.clock.add(len(data), asyncio.get_running_loop().time())

    def _frames(self, data: bytes) -> None:
        """One read: its frames' events in order, the data of a channel's consecutive frames
        handed over in one piece (a module cuts its answers at N1: one parse, not one per frame)."""
        mux = self.mux
        noise = mux.reader.stats.noise_bytes
        run_dlci, run = None, []
        for event in mux.receive_data(data):
            if isinstance(event, Data) and (event.dlci == run_dlci or not run):
                run_dlci = event.dlci
                run.append(event.data)
                continue
            self._deliver(run_dlci, run)
            run_dlci, run = None, []
            if isinstance(event, Data):
                run_dlci, run = event.dlci, [event.data]
                continue
            self._event(event)
            if self.mux is not mux:
                break  # closed down: the line is plain AT again
        self._deliver(run_dlci, run)
        out = mux.data_to_send()  # answers to the module's commands (its close-down's too)
        if out and self.serial is not None:
            self._send(out)
        if self.mux is mux and mux.reader.stats.noise_bytes != noise and self.boot_words:
            self._look_at_noise(mux)

    def _deliver(self, dlci, pieces) -> None:
        channel = self._channels.get(dlci) if pieces else None
        if channel is not None:
            channel.get_protocol().data_received(pieces[0] if len(pieces) == 1 else b"".join(pieces))

    def _event(self, event) -> None:
        if isinstance(event, Opened):
            self._resolve(("open", event.dlci), True)
        elif isinstance(event, Refused):
            self._resolve(("open", event.dlci), False)
        elif isinstance(event, Closed):
            if ("close", event.dlci) in self._waiting:
                self._resolve(("close", event.dlci), True)
            elif event.dlci in self._channels:
                log.warning("the module closed CMUX channel %d", event.dlci)
        elif isinstance(event, Answered):
            self._resolve(("answer", event.message.type), event.message)
        elif isinstance(event, NotSupported):
            self._resolve(("answer", event.type), None)
        elif isinstance(event, FlowChanged):
            log.debug("CMUX flow control: %s %s", "all channels" if event.dlci is None else f"DLCI {event.dlci}",
                      "stopped" if event.stopped else "resumed")
            if not event.stopped:
                self._schedule()
        elif isinstance(event, StatusReceived):
            log.debug("CMUX modem status of DLCI %d: %s", event.dlci, event.signals)
        elif isinstance(event, ClosedDown):
            self._ended()

    def _ended(self) -> None:
        """The multiplexer is over: our close-down was answered, or the module ended it. Either way
        the module talks plain AT from now on."""
        expected = ("answer", Type.CLD) in self._waiting
        self._resolve(("answer", Type.CLD), Message(Type.CLD, False))
        lost = [channel.get_protocol() for channel in self._channels.values()]
        self._plain()
        if not expected:
            log.warning("the module closed CMUX down by itself: the line is plain AT again")
            self.engine.abandon_in_flight(MuxRefused(104, "the module left CMUX"))  # ECONNRESET
            for engine in lost:
                if engine is not self.engine:
                    engine.connection_lost(MuxRefused(104, "the module left CMUX"))

    def _look_at_noise(self, mux: Multiplexer) -> None:
        """Text between frames: a restarted module talks plain AT (its boot words). Whatever waits
        for the multiplexer fails, and the engine hears the words as it would without CMUX."""
        seen = bytes(mux.reader.stats.recent_noise)
        mux.reader.stats.recent_noise.clear()
        lines = seen.replace(b"\r", b"\n").split(b"\n")
        if not any(line.strip() in self.boot_words for line in lines):
            return
        log.log(logging.WARNING if self._channels else logging.DEBUG,
                "the module talks plain AT between CMUX frames (%r): it restarted", seen[-64:])
        for future in self._waiting.values():
            if not future.done():
                future.set_exception(MuxRefused(104, "the module talks plain AT: it restarted"))  # ECONNRESET
        lost = [channel.get_protocol() for channel in self._channels.values()]
        self._plain()
        for engine in lost:
            if engine is not self.engine:
                engine.connection_lost(MuxRefused(104, "the module restarted"))
        self.engine.data_received(seen)


def _counters(mux: Multiplexer) -> Counter:
    reader = mux.reader.stats
    counters = Counter(dataclasses.asdict(mux.stats))
    counters.update(bad_fcs=reader.bad_fcs, dropped=reader.dropped, noise_bytes=reader.noise_bytes)
    return counters
