"""The AT channel: one command in flight, and every frame the modem sends classified.

Sans-I/O like :mod:`atsock.framing`, on top of it: :meth:`ATChannel.begin` returns the bytes of a
command for the caller to write, :meth:`ATChannel.receive` takes bytes and returns typed events.

Classification needs context the framer does not have:

* a line that repeats the command in flight is the module's echo and is dropped;
* ``OK``, ``ERROR``, ``+CME ERROR: <n>`` (and the extra finals a command declares, such as
  ``SEND OK``) end the command in flight;
* a line whose prefix (or pattern) is registered as unsolicited is a URC, unless the command in flight declared
  that prefix as its own answer (``AT+CPIN?`` answers ``+CPIN: READY``, which also comes
  unsolicited at boot) — so a URC arriving between the lines of a response is dispatched, not
  taken for part of it;
* anything else while a command is in flight is an intermediate line of its response; with no
  command in flight every line is unsolicited.
"""
from dataclasses import dataclass, field
from typing import FrozenSet, List, Optional, Pattern, Sequence, Tuple, Union

from .framing import DEFAULT_MAX_LINE, FrameError, FrameReader, PayloadFrame, PayloadRule, PromptFrame

BASIC_FINALS = frozenset({"OK", "ERROR"})
ERROR_PREFIXES = ("+CME ERROR:", "+CMS ERROR:")


@dataclass(frozen=True)
class Command:
    """What the channel needs to know about a command to classify its answer."""

    text: str
    response_prefixes: Tuple[str, ...] = ()
    extra_finals: FrozenSet[str] = frozenset()
    not_final: FrozenSet[str] = frozenset()  # e.g. ESP's AT+CIPSEND answers OK before its prompt
    prompt_line: Optional[str] = None  # a line that asks for the payload instead of "> " (AT+QFUPL's CONNECT)

    @property
    def name(self) -> str:
        """``AT+QIRD=0,1500`` -> ``AT+QIRD``: for statistics and logs."""
        for sep in "=?":
            cut = self.text.find(sep)
            if cut > 0:
                return self.text[:cut]
        return self.text


@dataclass(frozen=True)
class Intermediate:
    text: str
    data: Optional[bytes] = None


@dataclass(frozen=True)
class Final:
    text: str

    @property
    def ok(self) -> bool:
        return self.text == "OK"

    @property
    def error_code(self) -> Optional[int]:
        """The number of ``+CME ERROR: <n>``; None for other finals or verbose error text."""
        for prefix in ERROR_PREFIXES:
            if self.text.startswith(prefix):
                try:
                    return int(self.text[len(prefix):].strip())
                except ValueError:
                    return None
        return None


@dataclass(frozen=True)
class Urc:
    text: str
    data: Optional[bytes] = None


@dataclass(frozen=True)
class Prompt:
    pass


@dataclass(frozen=True)
class ProtocolError:
    reason: str
    header: Optional[str] = None


Event = Union[Intermediate, Final, Urc, Prompt, ProtocolError]


@dataclass
class _InFlight:
    command: Command
    lines: List[Intermediate] = field(default_factory=list)


class ChannelBusy(RuntimeError):
    """A second command was begun before the first one's final result."""


class ATChannel:
    def __init__(
        self,
        urc_prefixes: Sequence[str] = (),
        payload_rules: Sequence[PayloadRule] = (),
        max_line: int = DEFAULT_MAX_LINE,
        terminator: bytes = b"\r",
    ):
        self._urc_prefixes = tuple(urc_prefixes)
        self._urc_patterns: Tuple[Pattern[str], ...] = ()
        self._framer = FrameReader(payload_rules, max_line)
        self._current: Optional[Command] = None
        self._terminator = terminator

    @property
    def in_flight(self) -> Optional[Command]:
        return self._current

    def add_urc_prefix(self, prefix: str) -> None:
        if prefix not in self._urc_prefixes:
            self._urc_prefixes += (prefix,)

    def add_urc_pattern(self, pattern: Pattern[str]) -> None:
        self._urc_patterns += (pattern,)

    def add_payload_rule(self, rule: PayloadRule) -> None:
        self._framer.add_rule(rule)

    def begin(self, command: Command) -> bytes:
        if self._current is not None:
            raise ChannelBusy(f"{self._current.text!r} is still in flight")
        self._current = command
        return command.text.encode("ascii") + self._terminator

    @property
    def partial(self) -> int:
        """Bytes of an unfinished frame held by the framer."""
        return self._framer.partial

    def abandon(self) -> None:
        """Give up on the command in flight (its final never came) and drop partial frames."""
        self._current = None
        self._framer.reset()

    def receive(self, data: bytes) -> List[Event]:
        events: List[Event] = []
        for frame in self._framer.feed(data):
            event = self._classify(frame)
            if event is not None:
                events.append(event)
        return events

    def _classify(self, frame) -> Optional[Event]:
        if isinstance(frame, PromptFrame):
            return Prompt()
        if isinstance(frame, FrameError):
            return ProtocolError(frame.reason, frame.header)
        if isinstance(frame, PayloadFrame):
            if self._is_own_answer(frame.header):
                return Intermediate(frame.header, frame.data)
            return Urc(frame.header, frame.data)
        text = frame.text
        current = self._current
        if current is None:
            return Urc(text)
        if text == current.text:
            return None  # echo of the command line
        if text in current.not_final:
            return Intermediate(text)
        if text == current.prompt_line:
            return Prompt()
        if text in BASIC_FINALS or text in current.extra_finals or text.startswith(ERROR_PREFIXES):
            self._current = None
            return Final(text)
        if self._is_own_answer(text):
            return Intermediate(text)
        if text.startswith(self._urc_prefixes) or any(p.match(text) for p in self._urc_patterns):
            return Urc(text)
        return Intermediate(text)

    def _is_own_answer(self, text: str) -> bool:
        current = self._current
        return current is not None and bool(current.response_prefixes) and text.startswith(current.response_prefixes)
