"""The host's end of a TS 27.010 multiplexer, without I/O: channels, their data, flow control and
the control channel's dialogue (cmux.md §6–§13).

Like h2's connection object: :meth:`Multiplexer.receive_data` takes the bytes that arrived and
returns :class:`Event` objects; every method that has something to say (open, send, close down...)
and every received command that needs an answer leaves bytes in an outbox, which the caller takes
with :meth:`Multiplexer.data_to_send` and writes. Nothing here keeps time: the caller retries an
open, a close or a control command that stays unanswered (T1/T2 and N2 are its business), and
calling :meth:`open`, :meth:`close` or :meth:`close_down` again is exactly that retry.

The host is the initiator (it sent the first SABM), so its commands and data carry C/R = 1 in the
address and its responses C/R = 0. Received frames are not judged by their C/R bit, nor by the
P/F bit of a UIH frame: modules get both wrong (cmux.md §4.2, §4.3).

Flow control of the basic option (cmux.md §12): FCoff/FCon stop and restart every channel but the
control channel; an MSC with FC set or RTR clear stops one channel. The standard's only credit
scheme (the window ``k``) belongs to the error-recovery option, which Quectel modules do not
offer, so these two are all a UIH link has. :meth:`can_send` says whether a channel may send now;
the caller holds its data meanwhile. The host applies the same brakes to the module with
:meth:`signals` (its own MSC for a channel it cannot take more on).
"""
import enum
from dataclasses import dataclass
from typing import Dict, List, Optional, Set, Union

from .control import Message, Parameters, Signals, Type, decode, msc, parse_msc
from .frames import DEFAULT_N1, DataFramer, Frame, FrameReader, Kind, encode

CONTROL = 0  # the control channel's DLCI
MAX_DLCI = 63


class State(enum.Enum):
    CLOSED = "closed"
    OPENING = "opening"  # SABM sent, no answer yet
    OPEN = "open"
    CLOSING = "closing"  # DISC sent, no answer yet


class MuxError(RuntimeError):
    """The caller asked for something the multiplexer's state does not allow (a bug above it)."""


# --- events --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Opened:
    dlci: int


@dataclass(frozen=True)
class Refused:
    """The module answered SABM with DM: it does not offer this channel."""
    dlci: int


@dataclass(frozen=True)
class Closed:
    """The channel is closed: our DISC was answered, or the module closed it (DISC, DM)."""
    dlci: int


@dataclass(frozen=True)
class Data:
    dlci: int
    data: bytes


@dataclass(frozen=True)
class FlowChanged:
    """Whether ``dlci`` may send changed (``dlci`` None: FCoff/FCon, every data channel)."""
    dlci: Optional[int]
    stopped: bool


@dataclass(frozen=True)
class StatusReceived:
    """The module's MSC for a channel (its V.24 signals; flow already applied)."""
    dlci: int
    signals: Signals


@dataclass(frozen=True)
class Answered:
    """The module's response to one of our control commands (CLD, Test, MSC, PN, FCon/FCoff...)."""
    message: Message


@dataclass(frozen=True)
class NotSupported:
    """The module answered one of our control commands with NSC."""
    type: int


@dataclass(frozen=True)
class ClosedDown:
    """The multiplexer is over (our CLD answered, or the module's CLD or DISC on DLCI 0): the line
    carries plain AT from the next byte on."""


Event = Union[Opened, Refused, Closed, Data, FlowChanged, StatusReceived, Answered, NotSupported, ClosedDown]


@dataclass
class MuxStats:
    frames_out: int = 0
    frames_in: int = 0
    data_out: int = 0        # information octets sent on data channels
    data_in: int = 0
    unexpected: int = 0      # frames that fit no state (data on a closed channel, a stray UA...)
    bad_control: int = 0     # control frames that were not whole messages


class Multiplexer:
    def __init__(self, n1: int = DEFAULT_N1):
        self.n1 = n1
        self.reader = FrameReader(n1)
        self.stats = MuxStats()
        self.closed_down = False
        self._states: Dict[int, State] = {}
        self._framers: Dict[int, DataFramer] = {}
        self._stopped: Set[int] = set()      # channels the module stopped with MSC
        self._all_stopped = False            # FCoff in force
        self._out = bytearray()

    # --- the caller's side ------------------------------------------------------------------------
    def data_to_send(self) -> bytes:
        if not self._out:
            return b""
        out = bytes(self._out)
        self._out.clear()
        return out

    def state(self, dlci: int) -> State:
        return self._states.get(dlci, State.CLOSED)

    def open(self, dlci: int) -> None:
        """SABM (again, if it is still unanswered); DLCI 0 first, as the multiplexer's own."""
        self._check_dlci(dlci)
        if self.closed_down:
            raise MuxError("the multiplexer was closed down")
        if dlci != CONTROL and self.state(CONTROL) is not State.OPEN:
            raise MuxError("the control channel must be open first")
        if self.state(dlci) is State.OPEN:
            return
        self._states[dlci] = State.OPENING
        self._frame(Frame(dlci, Kind.SABM, pf=True))

    def close(self, dlci: int) -> None:
        """DISC (again, if it is still unanswered)."""
        self._check_dlci(dlci)
        if self.state(dlci) is State.CLOSED:
            return
        self._states[dlci] = State.CLOSING
        self._frame(Frame(dlci, Kind.DISC, pf=True))

    def close_down(self) -> None:
        """CLD: the whole multiplexer ends once the module answers (the channels with it). Sent
        with P/F clear: a BG96 ignores it otherwise (cmux.md §13.1)."""
        self._control(Message(Type.CLD, True))

    def can_send(self, dlci: int) -> bool:
        return (self.state(dlci) is State.OPEN and not self.closed_down and dlci not in self._stopped
                and not (self._all_stopped and dlci != CONTROL))

    def send(self, dlci: int, data) -> None:
        """``data`` on ``dlci`` in UIH frames of at most N1 octets; only while :meth:`can_send`."""
        if not data:
            return
        if not self.can_send(dlci):
            raise MuxError(f"DLCI {dlci} cannot send now ({self.state(dlci).value}"
                           f"{', stopped by the module' if self.state(dlci) is State.OPEN else ''})")
        framer = self._framers.get(dlci)
        if framer is None:
            framer = self._framers[dlci] = DataFramer(dlci, self.n1)
        self._out += framer.frames(data)
        self.stats.frames_out += -(-len(data) // self.n1)
        self.stats.data_out += len(data)

    def signals(self, dlci: int, signals: Signals) -> None:
        """Our MSC for ``dlci``: ``Signals(fc=True)`` asks the module to stop sending on it."""
        self._control(msc(dlci, signals))

    # --- the wire's side --------------------------------------------------------------------------
    def receive_data(self, data) -> List[Event]:
        events: List[Event] = []
        for frame in self.reader.feed(data):
            self.stats.frames_in += 1
            self._receive(frame, events)
        return events

    def _receive(self, frame: Frame, events: List[Event]) -> None:
        kind, dlci = frame.kind, frame.dlci
        state = self.state(dlci)
        if kind in (Kind.UIH, Kind.UI):
            if state is not State.OPEN:
                self.stats.unexpected += 1
            elif dlci == CONTROL:
                self._control_frame(frame.info, events)
            elif frame.info:
                self.stats.data_in += len(frame.info)
                events.append(Data(dlci, frame.info))
        elif kind is Kind.UA:
            if state is State.OPENING:
                self._states[dlci] = State.OPEN
                events.append(Opened(dlci))
            elif state is State.CLOSING:
                self._closed(dlci, events)
            else:
                self.stats.unexpected += 1
        elif kind is Kind.DM:
            if state is State.OPENING:
                self._states[dlci] = State.CLOSED
                events.append(Refused(dlci))
            elif state is not State.CLOSED:
                self._closed(dlci, events)
            else:
                self.stats.unexpected += 1
        elif kind is Kind.DISC:
            self._frame(Frame(dlci, Kind.UA if state is not State.CLOSED else Kind.DM, cr=False, pf=True))
            if state is not State.CLOSED:
                self._closed(dlci, events)
        elif kind is Kind.SABM:
            self._frame(Frame(dlci, Kind.DM, cr=False, pf=True))  # the host opens channels, not the module

    def _closed(self, dlci: int, events: List[Event]) -> None:
        if dlci == CONTROL:  # DISC on DLCI 0 ends the multiplexer, as CLD does
            self._end(events)
            return
        self._states[dlci] = State.CLOSED
        self._stopped.discard(dlci)
        events.append(Closed(dlci))

    def _end(self, events: List[Event]) -> None:
        if self.closed_down:
            return
        for dlci, state in sorted(self._states.items()):
            if dlci != CONTROL and state is not State.CLOSED:
                events.append(Closed(dlci))
        self._states.clear()
        self._stopped.clear()
        self.closed_down = True
        events.append(ClosedDown())

    # --- the control channel ----------------------------------------------------------------------
    def _control_frame(self, info: bytes, events: List[Event]) -> None:
        try:
            messages = decode(info)
        except ValueError:
            self.stats.bad_control += 1
            return
        for message in messages:
            if self.closed_down:
                return  # a close-down earlier in the frame: nothing after it is the multiplexer's
            if message.command:
                self._command(message, events)
            elif message.type == Type.NSC:
                events.append(NotSupported(message.value[0] >> 2 if message.value else 0))
            else:
                if message.type == Type.CLD:
                    self._end(events)
                events.append(Answered(message))

    def _command(self, message: Message, events: List[Event]) -> None:
        kind = message.type
        if kind == Type.MSC:
            try:
                dlci, signals = parse_msc(message.value)
            except ValueError:
                self.stats.bad_control += 1
                return
            self._control(message.answer())
            self._flow(dlci, signals.stops, events)
            events.append(StatusReceived(dlci, signals))
        elif kind in (Type.FCOFF, Type.FCON):
            self._control(message.answer())
            stop = kind == Type.FCOFF
            if stop != self._all_stopped:
                self._all_stopped = stop
                events.append(FlowChanged(None, stop))
        elif kind == Type.CLD:
            self._control(message.answer())
            self._end(events)
        elif kind in (Type.TEST, Type.PSC, Type.RLS):
            self._control(message.answer())  # Test echoes its pattern; PSC and RLS are acknowledged
        elif kind == Type.PN:
            self._answer_parameters(message)
        else:
            self._control(Message(Type.NSC, False, bytes([(int(kind) << 2) | 0x03])))

    def _answer_parameters(self, message: Message) -> None:
        """A PN from the module: agree, lowering its N1 to ours if it asks for more (a response
        may only lower N1)."""
        try:
            asked = Parameters.of(message.value)
        except ValueError:
            self.stats.bad_control += 1
            return
        agreed = Parameters(asked.dlci, min(asked.n1, self.n1), asked.t1, asked.n2, asked.k, asked.priority)
        self._control(message.answer(agreed.value()))

    def _flow(self, dlci: int, stop: bool, events: List[Event]) -> None:
        if stop == (dlci in self._stopped):
            return
        if stop:
            self._stopped.add(dlci)
        else:
            self._stopped.discard(dlci)
        events.append(FlowChanged(dlci, stop))

    # --- output -----------------------------------------------------------------------------------
    def _control(self, message: Message) -> None:
        if self.state(CONTROL) is not State.OPEN or self.closed_down:
            raise MuxError("the control channel is not open")
        self._frame(Frame(CONTROL, Kind.UIH, message.encode()))

    def _frame(self, frame: Frame) -> None:
        self.stats.frames_out += 1
        self._out += encode(frame)

    @staticmethod
    def _check_dlci(dlci: int) -> None:
        if not isinstance(dlci, int) or not 0 <= dlci <= MAX_DLCI:
            raise ValueError(f"DLCI is 0..{MAX_DLCI}, not {dlci!r}")
