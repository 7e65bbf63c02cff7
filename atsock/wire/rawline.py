"""Data mode's hold on the engine: one holder's commands alone, and the line handed over to raw data.

A holder (:meth:`RawLineHold.hold`) keeps the engine's queue for its own commands around a period of
raw data, so that nothing else goes out between entering and leaving. From a command's ``CONNECT``
or prompt on, the channel parses nothing and the bytes go to the :class:`RawLine`'s sink; a word of
the module's in them is only a suspicion (:meth:`RawLine.suspect`), and raw data ends when the
holder has proved it and calls :meth:`RawLineHold.resolve_raw` (see :mod:`atsock.core.transparent`).
The queue, the watchdog and the routing of events stay :class:`~atsock.wire.engine.Engine`'s.
"""
import logging
from typing import Callable, Optional

from .escape import ESCAPE
from .wiretrace import sent, tracing as _tracing

log = logging.getLogger("atsock.engine")  # (the engine's log channel, as before the split)


class RawLine:
    """What the engine does with the line while it carries raw data.

    ``sink(data)`` takes the bytes; ``suspect(word)`` hears of a word of the module's in them (or
    the peer's same bytes: what follows waits for :meth:`Engine.resolve_raw`); ``ended(word)`` is
    called once when the mode ends: with the module's word that ended it
    (``b"\\r\\nNO CARRIER\\r\\n"``...), or None when the port or the module was lost.
    ``overflow(held)``: more bytes came while a suspicion was resolved than may be kept.
    """

    def __init__(self, sink: Callable[[bytes], None], ended: Callable[[Optional[bytes]], None],
                 suspect: Callable[[bytes], None] = lambda word: None,
                 overflow: Callable[[int], None] = lambda held: None):
        self.sink = sink
        self.suspect = suspect
        self.ended = ended
        self.overflow = overflow
        self.active = False  # set while the line carries this raw data


class RawLineHold:
    """The engine's side of data mode: its hold for one holder and its raw line. Part of
    :class:`~atsock.wire.engine.Engine` (which has the queue, ``channel``, ``_route``, ``_pump`` and
    ``_write`` these use, and sets ``_holder`` and ``_raw``); in a module of its own so that each
    reads as one job."""

    # --- raw data (transparent / passthrough modes) ------------------------------------------
    def hold(self, holder: object) -> None:
        """From now on only ``holder``'s commands go out (a command in flight finishes first);
        everything else waits in the queue, in order, until :meth:`release`."""
        if self._holder is not None and self._holder is not holder:
            raise RuntimeError("the engine is already held")
        self._holder = holder

    def release(self, holder: object) -> None:
        if self._holder is holder:
            self._holder = None
            self._pump()

    @property
    def held_by(self) -> object:
        return self._holder

    @property
    def raw(self) -> bool:
        """True while the line carries raw data."""
        return self._raw is not None

    def expect_raw_end(self, word: bytes) -> None:
        """While raw: ``word`` is the module's answer to the escape, which may come from now on."""
        self.channel.expect_raw_end(word)

    @property
    def raw_suspended(self) -> bool:
        """Raw bytes wait for :meth:`resolve_raw` (a word of the module's, or the peer's same bytes, came)."""
        return self._raw is not None and self.channel.raw_suspended

    def raw_end(self, answered: bool = True) -> Optional[bytes]:
        """The module's word that :meth:`resolve_raw` would end raw data at now, if any."""
        return self.channel.raw_end(answered) if self._raw is not None else None

    def resolve_raw(self, answered: bool = True) -> bool:
        """The holder made sure the module is in command mode: the held bytes up to the module's
        word are data, the word ends raw data, what follows is read as lines. False (still raw)
        when no word is there. Without ``answered``, the escape's answers there do not count."""
        events = self.channel.resolve_raw(answered)
        for event in events:
            self._route(event)
        return bool(events)

    def abandon_raw(self) -> None:
        """Raw data ends without a word (the module restarted, the port went, it left silently):
        bytes held as the possible start of a word are data; a suspicion's held bytes are dropped."""
        if self._raw is not None:
            for event in self.channel.release_held():
                self._route(event)
            self.channel.abandon()
            self._end_raw(None)

    def write_escape(self, then_end_line: bool = False) -> None:
        """``+++`` between commands (a module that an earlier process left in data mode); the
        caller keeps the guard times. ``then_end_line``: the command terminator alone, which ends
        the line a module in command mode took those ``+`` for (it answers ERROR, or nothing)."""
        if self._active is not None or self._raw is not None:
            raise RuntimeError("the escape goes out only between commands")
        data = self.channel.terminator if then_end_line else ESCAPE
        if _tracing():
            sent(data, " (leaving a data mode)")
        self._write(data)

    def _end_raw(self, word: Optional[bytes]) -> None:
        raw, self._raw = self._raw, None
        if raw is None:
            return
        raw.active = False
        try:
            raw.ended(word)
        except Exception:
            log.exception("end of data mode not taken")
        self._pump()

    def write_raw(self, data) -> None:
        """Bytes for the far end while the line is raw (no command framing at all)."""
        if self._raw is None:
            raise RuntimeError("the line is not in data mode")
        self._write(data)
