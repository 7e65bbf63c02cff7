"""Cut the modem's byte stream into frames: text lines, the data prompt, and counted payloads.

Sans-I/O: :meth:`FrameReader.feed` takes whatever bytes the transport delivered and returns the
frames they complete; nothing here reads a port or a clock. The reader gives the same frames
whether the stream arrives whole, byte by byte or cut at any point, which the tests check.

Three shapes share the stream:

* lines, ``\\r\\n<text>\\r\\n``; blank lines between them carry nothing and are skipped;
* the prompt ``\\r\\n> `` that asks for payload and is *not* followed by CR LF, so it is
  recognised as soon as ``>`` stands at the start of a line (one following space is dropped);
* a header that announces ``n`` raw bytes (``+QIRD: n\\r\\n`` on Quectel, ``+IPD,0,n:`` on ESP),
  after which exactly ``n`` bytes are taken as data, whatever they contain.

A fourth shape takes the whole stream: in *raw* mode (a module's transparent or passthrough mode,
entered with :meth:`FrameReader.enter_raw`) every byte is data, read by :class:`~atsock.wire.rawstream.RawStream`:
a word of the module's (``\\r\\nNO CARRIER\\r\\n``...) is only a candidate, held until the session has
proved where the mode ended (:meth:`FrameReader.resolve_raw`); lines are read again after that.

Which headers announce payload is the dialect's knowledge, passed in as :class:`PayloadRule`.
Every line and every announced length is bounded, so a noisy or hostile modem cannot make the
reader buffer without limit; a violation comes out as a :class:`FrameError` and reading resumes
at the next line.
"""
import re
from dataclasses import dataclass
from typing import Dict, List, Optional, Pattern, Sequence, Tuple, Union

from .rawstream import RawEndFrame, RawFrame, RawOverflowFrame, RawStream, RawSuspectFrame, RawWords

DEFAULT_MAX_LINE = 2048
_LINE_BREAKS = b"\r\n"
_BREAK_BYTES = (b"\r", b"\n")
_REGEX_SPECIAL = frozenset(b".^$*+?{}[]|()\\")


@dataclass(frozen=True)
class PayloadRule:
    """A header that announces raw bytes.

    ``pattern`` is matched at the start of a line and must include the header's own terminator
    (``\\r\\n`` or ``:``) and a group named ``len``. Announced lengths above ``max_length`` are
    refused as a protocol error instead of being waited for.
    """

    pattern: Pattern[bytes]
    max_length: int
    prefix: bytes = b""  # literal bytes every header begins with: other lines skip the pattern
    # every unfinished beginning of a header (matched against the whole buffer): while the bytes
    # so far could still become this header, later rules (a shorter header that fits them) wait
    partial: Optional[Pattern[bytes]] = None
    # what the module always sends after the payload (``\r\n\r\nOK\r\n`` after a +QIRD answer; a
    # pushed +IPD has none): counted in what is due, so that one read can take both
    trailer: bytes = b""


@dataclass(frozen=True)
class LineFrame:
    text: str


@dataclass(frozen=True)
class PromptFrame:
    pass


PROMPT_FRAME = PromptFrame()


@dataclass(frozen=True)
class PayloadFrame:
    header: str
    data: bytes


@dataclass(frozen=True)
class FrameError:
    reason: str
    header: Optional[str] = None  # the refused payload header, when there was one


Frame = Union[LineFrame, PromptFrame, PayloadFrame, RawFrame, RawSuspectFrame, RawEndFrame, RawOverflowFrame,
              FrameError]


def decode(raw: bytes) -> str:
    """Modem text is ASCII; latin-1 maps any stray byte to one character instead of failing."""
    return raw.decode("latin-1")


class FrameReader:
    """``fast``: a payload whose trailer is already there is taken with it, the trailer's line
    frame ready-made (:meth:`step`); ``fast=False`` is the reference reading, which never does,
    and which the tests hold the fast one to."""

    def __init__(self, payload_rules: Sequence[PayloadRule] = (), max_line: int = DEFAULT_MAX_LINE,
                 fast: bool = True):
        self._rules: List[PayloadRule] = []
        self._max_line = max_line
        self._fast = fast
        self._trailer_frames: Dict[bytes, LineFrame] = {}  # trailer -> the frame the reference reading makes of it
        self._buf = bytearray()
        self._payload_header: Optional[str] = None
        self._payload_left = 0
        self._payload_trailer = b""
        self._discarding = False
        self._after_prompt = False
        self._raw: Optional[RawStream] = None  # while the stream is raw data (a transparent mode)
        for rule in payload_rules:
            self.add_rule(rule)

    def add_rule(self, rule: PayloadRule) -> None:
        self._rules.append(rule)
        if self._fast:
            self._trailer_frames = {}
            for trailer in {rule.trailer for rule in self._rules if rule.trailer}:
                frame = self._reference_frame(trailer)
                if frame is not None:
                    self._trailer_frames[trailer] = frame

    def _reference_frame(self, trailer: bytes) -> Optional["LineFrame"]:
        """The one line frame the reference reading makes of ``trailer`` (None: it makes something
        else, or a header could begin with it, and the trailer is read the reference way)."""
        if not all(rule.prefix for rule in self._rules):
            return None
        reference = FrameReader(self._rules, self._max_line, fast=False)
        frames = reference.feed(trailer)
        if len(frames) == 1 and type(frames[0]) is LineFrame and not reference.buffered:
            return frames[0]
        return None

    @property
    def buffered(self) -> int:
        """Bytes held waiting for the rest of a frame (bounded by max_line or one payload)."""
        return len(self._buf)

    @property
    def partial(self) -> int:
        """Bytes of a frame begun but not finished (0 between frames and after a prompt)."""
        return self.waiting()[1]

    @property
    def due(self) -> int:
        """Bytes certain to come before the payload under way is complete: the rest of an announced
        payload (0 when none is under way, since nothing else announces its length). The trailer
        (``OK``) is not counted: a module sends it after a step of its own, later than the line
        time says, and a reader paused for it woke too early, found it missing and waited again
        (Quectel at 921600: 91% of the line instead of 95%). Where it is there, the framer still
        takes it with the payload."""
        return self.waiting()[0]

    def waiting(self) -> Tuple[int, int, int]:
        """(:attr:`due`, :attr:`partial`, :attr:`held`) at once: what a port's reader asks after every read."""
        buf = self._buf
        if self._raw is not None:  # raw mode: held-back bytes are held, not a stalled frame
            return 0, 0, self._raw.held(buf)
        if self._payload_header is not None:
            return max(0, self._payload_left - len(buf)), len(buf) + 1, 0
        return 0, len(buf.lstrip(b"\r\n")) if buf else 0, 0

    def reset(self) -> None:
        """Forget any partial frame: used when the engine resynchronises with the modem."""
        self._buf.clear()
        self._payload_header = None
        self._discarding = False
        self._after_prompt = False
        self._raw = None

    # --- raw mode (see atsock.wire.rawstream) -------------------------------------------------------
    @property
    def raw(self) -> bool:
        return self._raw is not None

    def enter_raw(self, words: RawWords) -> None:
        """From the next byte on everything is data; ``words`` are the module's that may end it."""
        self._raw = RawStream(words)
        self._after_prompt = False

    def expect_end(self, word: bytes) -> None:
        """The module's answer to the escape, which may come from now on."""
        if self._raw is not None:
            self._raw.expect_answer(word, len(self._buf))

    @property
    def held(self) -> int:
        """Raw bytes held back because they may begin a word that ends raw mode."""
        return self.waiting()[2]

    @property
    def suspended(self) -> bool:
        """A candidate came: raw bytes are held until :meth:`resolve_raw`."""
        return self._raw is not None and self._raw.suspended

    def release_held(self) -> List[Frame]:
        """The held bytes were data after all (nothing completed the word in time)."""
        return self._raw.release(self._buf) if self._raw is not None else []

    def raw_end(self, answered: bool = True) -> Optional[bytes]:
        """The word :meth:`resolve_raw` would end raw data at now (None: no word yet)."""
        found = self._raw.end(self._buf, answered) if self._raw is not None else None
        return found[1] if found is not None else None

    def resolve_raw(self, answered: bool = True) -> List[Frame]:
        """The module is in command mode: the data up to its word and the word, then lines again.
        Empty (still raw) if no word is there; without ``answered`` the escape's answers do not count."""
        frames = self._raw.resolve(self._buf, answered) if self._raw is not None else None
        if frames is None:
            return []
        self._raw = None
        return frames

    def feed(self, data: bytes) -> List[Frame]:
        self.push(data)
        frames: List[Frame] = []
        while self.step(frames):
            pass
        return frames

    def push(self, data: bytes) -> None:
        """Add received bytes; :meth:`step` takes frames out of them."""
        self._buf += data

    def step(self, frames: List[Frame]) -> bool:
        """Append the next frame (raw mode: the data up to an ending word, and that word); return
        False when more bytes are needed. Between steps the caller may switch to raw mode."""
        buf = self._buf
        if self._raw is not None:
            return self._raw.step(buf, frames)
        if self._payload_header is not None:  # (most of what a modem sends: taken here, not in a call)
            left = self._payload_left
            if len(buf) < left:
                return False
            frames.append(PayloadFrame(self._payload_header, bytes(buf[:left])))
            self._payload_header = None
            trailer = self._payload_trailer
            end = self._trailer_frames.get(trailer) if trailer else None
            if end is not None and buf.startswith(trailer, left):
                del buf[:left + len(trailer)]  # the trailer's line as the reference reading would make it
                frames.append(end)
            else:
                del buf[:left]
            return True
        if self._discarding:
            end = buf.find(b"\n")
            if end < 0:
                buf.clear()
                return False
            del buf[: end + 1]
            self._discarding = False
            return True
        if self._after_prompt:
            if not buf:
                return False
            if buf[0] == 0x20:
                del buf[0]
            self._after_prompt = False
        if buf[:1] in _BREAK_BYTES:
            del buf[:len(buf) - len(buf.lstrip(_LINE_BREAKS))]
        if not buf:
            return False
        if buf[0] == 0x3E:  # ">"
            del buf[0]
            self._after_prompt = True
            frames.append(PROMPT_FRAME)
            return True
        for rule in self._rules:
            if not buf.startswith(rule.prefix):
                continue
            match = rule.pattern.match(buf)
            if match is None:
                if rule.partial is not None and rule.partial.fullmatch(buf):
                    return False  # this header may still be arriving: more bytes will tell
                continue
            length = int(match.group("len"))
            header = decode(bytes(match.group(0))).rstrip("\r\n:")
            del buf[: match.end()]
            if length > rule.max_length:
                frames.append(FrameError(f"announced length {length} exceeds {rule.max_length}: {header!r}", header))
                return True
            self._payload_header = header
            self._payload_left = length
            self._payload_trailer = rule.trailer
            return True
        end = buf.find(b"\n")
        if end < 0:
            if len(buf) > self._max_line:
                frames.append(FrameError(f"line longer than {self._max_line} bytes"))
                buf.clear()
                self._discarding = True
            return False
        if end > self._max_line:
            frames.append(FrameError(f"line longer than {self._max_line} bytes"))
            del buf[: end + 1]
            return True
        line = decode(bytes(buf[:end])).rstrip("\r").strip(" ")
        del buf[: end + 1]
        if line:
            frames.append(LineFrame(line))
        return True


def payload_rule(pattern: bytes, max_length: int, partial: Optional[bytes] = None, trailer: bytes = b"") -> PayloadRule:
    return PayloadRule(re.compile(pattern), max_length, _literal_prefix(pattern),
                       re.compile(partial) if partial is not None else None, trailer)


def _literal_prefix(pattern: bytes) -> bytes:
    """The literal bytes a regular expression begins with (``rb"\\+QIRD: (?P<len>..."`` -> ``b"+QIRD: "``)."""
    prefix, index = bytearray(), 0
    while index < len(pattern):
        byte = pattern[index]
        if byte == 0x5C and index + 1 < len(pattern) and pattern[index + 1] in _REGEX_SPECIAL:  # \+, \.
            prefix.append(pattern[index + 1])
            index += 2
        elif byte in _REGEX_SPECIAL:
            break
        else:
            prefix.append(byte)
            index += 1
    if index < len(pattern) and pattern[index] in b"*?{" and prefix:
        prefix.pop()  # a quantifier makes the last byte optional
    return bytes(prefix)
