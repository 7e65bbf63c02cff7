"""The AT channel: one command in flight, and every frame the modem sends classified.

Sans-I/O like :mod:`atsock.wire.framing`, on top of it: :meth:`ATChannel.begin` returns the bytes of a
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

A command may declare that its answer hands the line over to raw data (``CONNECT`` of a
transparent mode, the prompt of ESP-AT's passthrough): right after that frame every byte is
:class:`RawData`. A word of the module's that may end the mode is a :class:`RawSuspect` (a peer can
send the same bytes); from it on the bytes wait until the holder of the line has proved where the
mode ended and calls :meth:`ATChannel.resolve_raw`, which gives the data up to the module's word,
the word (:class:`RawEnd`), and lines again. The switch into raw data happens between two frames of
the same read, so no byte lands on the wrong side.
"""
from dataclasses import dataclass, field
from functools import cached_property
from typing import FrozenSet, List, Optional, Pattern, Sequence, Tuple, Union

from .framing import DEFAULT_MAX_LINE, FrameReader, LineFrame, PayloadFrame, PayloadRule, PromptFrame
from .rawstream import RawEndFrame, RawFrame, RawOverflowFrame, RawSuspectFrame, RawWords

BASIC_FINALS = frozenset({"OK", "ERROR"})
ERROR_PREFIXES = ("+CME ERROR:", "+CMS ERROR:")


@dataclass(frozen=True)
class Command:
    """What the channel needs to know about a command to classify its answer."""

    text: str
    response_prefixes: Tuple[str, ...] = ()
    extra_finals: FrozenSet[str] = frozenset()
    not_final: FrozenSet[str] = frozenset()  # e.g. ESP's AT+CIPSEND answers OK before its prompt
    raw_after: FrozenSet[str] = frozenset()  # finals after which the line carries raw data ("CONNECT")
    raw_after_prompt: bool = False           # the prompt hands the line over (ESP passthrough); final ">"
    raw_words: Optional[RawWords] = None     # the module's words that may end raw data
    prompt_line: Optional[str] = None  # a line that asks for the payload instead of "> " (AT+QFUPL's CONNECT)

    @cached_property
    def encoded(self) -> bytes:
        """The command line's bytes (a chained command goes out many times)."""
        return self.text.encode("ascii")

    @cached_property
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


PROMPT = Prompt()  # (it carries nothing: one will do for every chunk of a send)


@dataclass(frozen=True)
class RawData:
    data: bytes


@dataclass(frozen=True)
class RawSuspect:
    word: bytes  # a word of the module's, or the peer's same bytes: raw data waits for resolve_raw()


@dataclass(frozen=True)
class RawEnd:
    word: bytes


@dataclass(frozen=True)
class RawOverflow:
    held: int  # bytes piled up while raw data waited to be resolved


@dataclass(frozen=True)
class ProtocolError:
    reason: str
    header: Optional[str] = None


Event = Union[Intermediate, Final, Urc, Prompt, RawData, RawSuspect, RawEnd, RawOverflow, ProtocolError]


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
        fast: bool = True,  # False: the framer's reference reading (see FrameReader)
    ):
        self._urc_prefixes = tuple(urc_prefixes)
        self._urc_patterns: Tuple[Pattern[str], ...] = ()
        self._framer = FrameReader(payload_rules, max_line, fast)
        #: waiting() -> (:attr:`due`, :attr:`partial`, :attr:`raw_held`) at once, as a port's reader asks
        #: after every read (the framer's own answer)
        self.waiting = self._framer.waiting
        self._current: Optional[Command] = None
        self._terminator = terminator

    @property
    def in_flight(self) -> Optional[Command]:
        return self._current

    @property
    def terminator(self) -> bytes:
        """What ends a command line (CR; CR LF on ESP-AT)."""
        return self._terminator

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
        return command.encoded + self._terminator

    @property
    def partial(self) -> int:
        """Bytes of an unfinished frame held by the framer."""
        return self._framer.partial

    @property
    def due(self) -> int:
        """Bytes certain to come before the frame under way is complete (see FrameReader.due)."""
        return self._framer.due


    def abandon(self) -> None:
        """Give up on the command in flight (its final never came) and drop partial frames."""
        self._current = None
        self._framer.reset()

    def receive(self, data: bytes) -> List[Event]:
        framer = self._framer
        framer.push(data)
        events: List[Event] = []
        frames: list = []
        more = True
        while more:
            more = framer.step(frames)
            for frame in frames:
                event = self._classify(frame)  # may switch the framer to raw data for what follows
                if event is not None:
                    events.append(event)
            frames.clear()
        return events

    # --- raw data (transparent / passthrough modes) --------------------------------------------
    @property
    def raw(self) -> bool:
        """True while the line carries raw data."""
        return self._framer.raw

    @property
    def raw_held(self) -> int:
        """Raw bytes held back because they may begin a word that ends the mode."""
        return self._framer.held

    @property
    def raw_suspended(self) -> bool:
        """A candidate word came: raw bytes wait for :meth:`resolve_raw`."""
        return self._framer.suspended

    def expect_raw_end(self, word: bytes) -> None:
        """The module's answer to the escape (``+++``), which may come from now on."""
        self._framer.expect_end(word)

    def release_held(self) -> List[Event]:
        return [RawData(frame.data) for frame in self._framer.release_held()]

    def raw_end(self, answered: bool = True) -> Optional[bytes]:
        """The module's word that :meth:`resolve_raw` would end raw data at now, if any."""
        return self._framer.raw_end(answered)

    def resolve_raw(self, answered: bool = True) -> List[Event]:
        """The module is in command mode: data up to its word, the word, then the lines after it
        (empty, still raw, if no word is there; without ``answered`` the escape's answers do not count)."""
        frames = self._framer.resolve_raw(answered)
        if not frames:
            return []
        return [self._classify(frame) for frame in frames] + self.receive(b"")

    def _classify(self, frame) -> Optional[Event]:
        kind = type(frame)  # (lines and payloads first: they are most of what a modem says)
        if kind is LineFrame:
            return self._classify_line(frame.text)
        if kind is PayloadFrame:
            if self._is_own_answer(frame.header):
                return Intermediate(frame.header, frame.data)
            return Urc(frame.header, frame.data)
        if kind is RawFrame:
            return RawData(frame.data)
        if kind is RawSuspectFrame:
            return RawSuspect(frame.word)
        if kind is RawEndFrame:
            return RawEnd(frame.word)
        if kind is RawOverflowFrame:
            return RawOverflow(frame.held)
        if kind is PromptFrame:
            current = self._current
            if current is not None and current.raw_after_prompt:
                self._framer.enter_raw(current.raw_words)
                self._current = None
                return Final(">")
            return PROMPT
        return ProtocolError(frame.reason, frame.header)  # FrameError: the only kind left

    def _classify_line(self, text: str) -> Optional[Event]:
        current = self._current
        if current is None:
            return Urc(text)
        if text == current.text:
            return None  # echo of the command line
        if text in current.not_final:
            return Intermediate(text)
        if text == current.prompt_line:
            return PROMPT
        if text in BASIC_FINALS or text in current.extra_finals or text.startswith(ERROR_PREFIXES):
            self._current = None
            if text in current.raw_after:
                self._framer.enter_raw(current.raw_words)
            return Final(text)
        if self._is_own_answer(text):
            return Intermediate(text)
        if text.startswith(self._urc_prefixes) or any(p.match(text) for p in self._urc_patterns):
            return Urc(text)
        return Intermediate(text)

    def _is_own_answer(self, text: str) -> bool:
        current = self._current
        return current is not None and bool(current.response_prefixes) and text.startswith(current.response_prefixes)
