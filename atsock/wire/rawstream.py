"""Data mode's byte stream, sans-I/O: the peer's bytes, and the module's words that may end them.

In a transparent mode the module's own words travel in the same stream as the peer's bytes, and a
peer can send the very same bytes. So a word here is only a *candidate*:

* until one comes, bytes go out as data as soon as they cannot be the beginning of a word;
* from a candidate on, everything is held (``suspended``) and nothing goes out, until the session
  has made sure the module is in command mode (``+++`` between guard silences, which no peer can
  forge) and calls :meth:`RawStream.resolve`; each answer to the escape that comes meanwhile is
  told too, so that the session can judge it by when it came (the module's can come only once its
  guard time has passed);
* :meth:`RawStream.resolve` cuts the held bytes where the module's own word must be. Once the
  module has left the mode, only its own text follows (notices in printable ASCII, never the
  peer's bytes), so: the *last* answer to the escape is the module's, if there is one and only
  text follows it (an answer counts only once ``+++`` was written), unless a close word that the
  module prints only in data mode follows it (then that answer was the peer's, and the mode ended
  at the last such close word); otherwise the *last* close word, if only text follows it;
  otherwise the last restart word, likewise. Bytes before the cut are the peer's, however many
  candidates they contain; bytes after it are the module's text and are read as lines again (a
  restart word among them, so that its notice is handled as any other).

The words, given by the dialect as :class:`RawWords`: ``closes`` (the peer closed: ``NO CARRIER``,
``CLOSED``...), ``restarts`` (the module rebooted: ``RDY``, ``ready``); and ``answers`` (what the
module prints when ``+++`` took effect: ``OK``, ``+QUITT``), expected only once the escape is sent.
"""
from dataclasses import dataclass
from typing import Iterable, List, Optional, Tuple, Union

MAX_HELD = 16 * 1024 * 1024  # held bytes beyond this are a broken module, not data to keep
TEXT = bytes(range(0x20, 0x7F)) + b"\r\n"  # what a module prints outside data mode


@dataclass(frozen=True)
class RawWords:
    """A module's words that may end its data mode."""

    closes: Tuple[bytes, ...]         # the peer closed: the module left the mode by itself
    restarts: Tuple[bytes, ...] = ()  # the module rebooted
    notices: Tuple[bytes, ...] = ()   # those of ``closes`` it also prints in command mode (after the escape)

    def __post_init__(self):
        if not self.closes or not all(self.closes + self.restarts):
            raise ValueError("raw mode needs the words that end it")


@dataclass(frozen=True)
class RawFrame:
    data: bytes


@dataclass(frozen=True)
class RawSuspectFrame:
    word: bytes  # a candidate: from it on, bytes are held until the session resolves them


@dataclass(frozen=True)
class RawEndFrame:
    word: bytes  # the module's word that ended raw mode, as it came


@dataclass(frozen=True)
class RawOverflowFrame:
    held: int  # bytes held while the end was being proved: more than anyone should buffer


Frame = Union[RawFrame, RawSuspectFrame, RawEndFrame, RawOverflowFrame]


class RawStream:
    def __init__(self, words: RawWords):
        self.closes = words.closes
        self.restarts = words.restarts
        self._mode_closes = tuple(word for word in words.closes if word not in words.notices)
        self.answers: Tuple[bytes, ...] = ()
        self._answer_from = 0  # where answers may begin in the buffer (earlier bytes came before "+++")
        self.suspended = False
        self._told = -1     # while suspended: where the last answer told of begins in the buffer
        self._scanned = 0   # while suspended: how much of the buffer has been looked through for answers
        self._overflowed = False
        self._end_bytes = frozenset(b"".join(self.closes + self.restarts))

    def expect_answer(self, word: bytes, buffered: int) -> None:
        """``word`` answers the escape from now on; the ``buffered`` bytes came before it was sent.
        A second escape does not move that point: the first one's answer may be among them."""
        if word and word not in self.answers:
            self.answers += (word,)
            self._answer_from = buffered
            self._end_bytes |= frozenset(word)

    def _consumed(self, count: int) -> None:
        self._answer_from = max(0, self._answer_from - count)
        self._told -= count
        self._scanned = max(0, self._scanned - count)

    def _tell_answers(self, buf: bytearray, frames: List[Frame]) -> None:
        """Every answer to the escape that came in the held bytes since the last look."""
        longest = max(map(len, self.answers))
        start = max(self._answer_from, self._told + 1, self._scanned - longest + 1)
        while True:
            at, word = -1, b""
            for answer in self.answers:
                found = buf.find(answer, start)
                if found >= 0 and (at < 0 or found < at):
                    at, word = found, answer
            if at < 0:
                break
            frames.append(RawSuspectFrame(word))
            self._told = at
            start = at + 1
        self._scanned = len(buf)

    def _first(self, buf: bytearray) -> Tuple[int, bytes]:
        cut, found = -1, b""
        for word, start in [(w, 0) for w in self.closes + self.restarts] + [(w, self._answer_from) for w in self.answers]:
            at = buf.find(word, start)
            if at >= 0 and (cut < 0 or at < cut):
                cut, found = at, word
        return cut, found

    def step(self, buf: bytearray, frames: List[Frame]) -> bool:
        """Take what ``buf`` holds: data up to a candidate (then hold), or all but a possible
        beginning of a word. Always False: raw data needs more bytes, never a second look."""
        if self.suspended:
            if self.answers:
                self._tell_answers(buf, frames)
            if len(buf) > MAX_HELD:  # the connection fails for it; the newest bytes hold the end
                if not self._overflowed:
                    self._overflowed = True
                    frames.append(RawOverflowFrame(len(buf)))
                dropped = len(buf) - MAX_HELD // 2
                del buf[:dropped]
                self._consumed(dropped)
            return False
        if not buf:
            return False
        cut, word = self._first(buf)
        if cut >= 0:
            if cut:
                frames.append(RawFrame(bytes(buf[:cut])))
                del buf[:cut]
                self._consumed(cut)
            self.suspended = True
            frames.append(RawSuspectFrame(word))
            self._told = 0 if word in self.answers else -1
            self._scanned = len(word)
            if self.answers:
                self._tell_answers(buf, frames)
            return False
        keep = _longest_start(buf, self.closes + self.restarts + self.answers) if buf[-1] in self._end_bytes else 0
        if len(buf) > keep:
            count = len(buf) - keep
            frames.append(RawFrame(bytes(buf[:count])))
            del buf[:count]
            self._consumed(count)
        return False

    def held(self, buf: bytearray) -> int:
        """Bytes held back because they may begin a word (not the held bytes of a candidate)."""
        return 0 if self.suspended else len(buf)

    def release(self, buf: bytearray) -> List[Frame]:
        """The bytes that might have begun a word were data after all (nothing completed it in
        time). A candidate's bytes wait for :meth:`resolve` instead."""
        if self.suspended or not buf:
            return []
        data = bytes(buf)
        buf.clear()
        self._consumed(len(data))
        return [RawFrame(data)]

    def end(self, buf: bytearray, answered: bool = True) -> Optional[Tuple[int, bytes, bool]]:
        """Where the module's own word is in ``buf``: (offset, word, whether the word is consumed),
        or None when no word is there. Without ``answered`` no answer counts (those there came
        too early to be the module's)."""
        at, answer = _last(buf, self.answers, self._answer_from) if answered else (-1, b"")
        if at >= 0 and _text(buf, at + len(answer)):
            close_at, close = _last(buf, self._mode_closes, at + 1)  # (they may share a CR LF)
            return (close_at, close, True) if close_at >= 0 else (at, answer, True)
        for words, consumed in ((self.closes, True), (self.restarts, False)):
            at, found = _last(buf, words, 0)
            if at >= 0 and _text(buf, at + len(found)):
                return at, found, consumed
        return None

    def resolve(self, buf: bytearray, answered: bool = True) -> Optional[List[Frame]]:
        """The module is in command mode: data up to its word, the word, and ``buf`` left holding
        the module's text after it. None (and nothing changed) if no word is there."""
        found = self.end(buf, answered)
        if found is None:
            return None
        at, word, consumed = found
        frames: List[Frame] = [RawFrame(bytes(buf[:at]))] if at else []
        del buf[:at + (len(word) if consumed else 0)]
        frames.append(RawEndFrame(word))
        return frames


def _last(buf: bytearray, words: Iterable[bytes], start: int) -> Tuple[int, bytes]:
    """(offset, word) of the last of ``words`` in ``buf`` from ``start``; (-1, b"") if none is."""
    return max(((buf.rfind(word, start), word) for word in words), default=(-1, b""))


def _text(buf: bytearray, start: int) -> bool:
    """Whether everything from ``start`` on could be the module's own text."""
    return not buf[start:].translate(None, TEXT)


def _longest_start(buf: bytearray, words: Tuple[bytes, ...]) -> int:
    """The length of the longest end of ``buf`` that is the beginning of one of ``words``."""
    best = 0
    for word in words:
        for size in range(min(len(word) - 1, len(buf)), best, -1):
            if buf.endswith(word[:size]):
                best = size
                break
    return best
