"""Data mode: one socket's bytes carried raw on the serial line (Quectel's transparent access mode,
ESP-AT's passthrough), for a bulk transfer without a command and a turnaround per chunk.

A :class:`DataSession` holds the line from the first command that enters the mode to the last one
that restores command mode: commands for anything else wait in the queue, in order, and go out once
it is over (the module answers nothing else meanwhile, and reports nothing: no URCs). The dialect
gives the commands around the mode and the module's words (:class:`atsock.core.dialect.DataModeCommands`);
the session does the rest.

The module's words travel in the peer's byte stream, and a peer can send the same bytes. So:

* **A word is only a suspicion.** ``NO CARRIER``, ``CLOSED``, ``RDY`` in the stream stop the writers and
  hold the bytes from the word on (:mod:`atsock.wire.rawstream`); data mode ends only once the session
  has *proved* that the module is in command mode: ``+++`` between two guard silences (to a module
  still in data mode it is the escape, to one in command mode the harmless start of a line), then
  the module's answer or its silence, then a probe that only the module answers. Where the mode
  ended is then unambiguous: after the module left, only its own text follows, so the held bytes
  are cut at the last of its words (:meth:`atsock.wire.rawstream.RawStream.resolve`). A close word that
  turns out to be the peer's is delivered as data and the session goes on (the dialect re-enters
  the mode); nothing is ever written into a session that may still carry data, except the escape.
* **The payload never escapes the module**: :class:`atsock.wire.escape.PlusGuard` keeps any run of ``+``
  from standing alone between two guard silences.
* **Every way out ends in a named state** (:attr:`DataSession.outcome`): ``"left"`` (the block ended:
  command mode; on Quectel the socket goes on, on ESP-AT its connection ended with the block),
  ``"closed"`` (the peer closed: every byte delivered, then end of stream), ``"lost"`` (the module
  restarted or the port went: the socket failed with the core's error), ``"failed"`` (the module did
  not leave data mode, or its end could not be told apart from the data: the socket fails with
  EIO and the engine resynchronises), ``"refused"`` (data mode was never entered).

Silence counts from the moment the last byte has left the host's UART. A real serial device tells
(``tcdrain``); a pty (the emulator) does not, so the session also keeps the line's own clock
(:class:`atsock.wire.escape.LineClock`).

The session's contract with the line (:class:`DataLine`) is what it needs from the engine, so that
another line (a multiplexer's channel) can carry a session too.
"""
import asyncio
import enum
import errno
import logging
from typing import Optional, Protocol, Tuple

from ..errors import CommandFailed, CommandTimeout, ModemGone, os_error, timeout_error
from ..wire.rawline import RawLine
from ..wire.escape import ESCAPE, QUIET, LineClock, PlusGuard, guard_silence
from ..wire.transport import sent_by_os
from .readhold import ReadHold

log = logging.getLogger("atsock.datamode")

ANSWER_WAIT = 0.3       # seconds after the guard the module's answer may still take, with a close word held
ANSWER_SLACK = 1.0      # seconds after the guard with no word at all before the escape counts as not taken
EARLIEST_ANSWER = 0.9   # share of the guard after "+++" before which no answer can be the module's
OUTPUT_BACKLOG = 65536  # bytes a module may still have to send us when it leaves the mode
ESCAPE_ATTEMPTS = 3
PROBE_ATTEMPTS = 3      # the first probe after an escape into command mode may meet the stray "+++"
PROBE_TIMEOUT = 1.0
WRITE_PIECE = 16 * 1024
RECEIVE_HIGH = 64 * 1024  # bytes received and not read above which a line that can brake the module does
FLUSH_DELAY = 0.001     # a held "+" goes this long after its guard window (timers may fire early)


class Stage(enum.Enum):
    ENTERING = "entering"
    CARRYING = "carrying"  # the line carries the socket's bytes
    PROVING = "proving"    # writers wait: the session makes sure where the mode ended
    ENDED = "ended"


class DataLine(Protocol):
    """What a session needs from its line (the :class:`atsock.wire.engine.Engine` is one; a channel of a
    multiplexer can be another). The session holds the line for its commands, writes payload and the
    escape while the line is raw, and hears of the raw bytes through its :class:`RawLine`: data,
    a word that may end the mode, the end. The line never decides where the mode ended: it holds
    the bytes from a word on until the session, sure of the module's state, calls ``resolve_raw``."""

    held_by: object                                   # the holder, while one holds the line
    probe_command: Tuple[object, Optional[str]]       # a command only the module answers, and its line
    gone: Optional[BaseException]                     # set once the port is lost
    unsent: int                                       # bytes written but not yet handed to the port
    transport: object                                 # for tcdrain (atsock.wire.transport.sent_by_os)
    stats: object                                     # ``stats.bytes_read``: quiet is when it stops growing

    def hold(self, holder: object) -> None: ...           # only the holder's commands go out
    def release(self, holder: object) -> None: ...
    async def command(self, text, **options): ...          # owner=, raw=RawLine, raw_after..., raw_words
    def write_raw(self, data) -> None: ...                 # payload (and the escape) while raw
    async def writable(self) -> None: ...                  # the port takes more
    def expect_raw_end(self, word: bytes) -> None: ...     # the escape's answer may come from now on
    @property
    def raw_suspended(self) -> bool: ...                   # a word came: bytes wait for resolve_raw()
    def raw_end(self, answered: bool = True) -> Optional[bytes]: ...  # the word resolve_raw() would end at
    def resolve_raw(self, answered: bool = True) -> bool: ...  # command mode is proved: cut the held bytes
    def abandon_raw(self) -> None: ...                     # no word will come: raw data ends without one
    def mark_out_of_step(self) -> None: ...                # the module's state is unknown: probe first


class DataSession:
    """``core`` is the :class:`atsock.core.socketcore.SocketCore`; ``line_rate`` the port's bytes a second
    (None: unknown, the guard alone is waited). ``line`` is where the session runs (the core's engine
    unless given: a multiplexer's channel), ``clock`` when its bytes leave the port (by default
    counted from ``line_rate``: the session's bytes are the line's)."""

    def __init__(self, core, conn, modes, line_rate: Optional[float], line: Optional[DataLine] = None,
                 clock: Optional[LineClock] = None):
        loop = asyncio.get_running_loop()
        self._loop = loop
        self.core = core
        self.engine = line if line is not None else core.engine
        self.conn = conn
        self.modes = modes
        self.raw = RawLine(self._arrived, self._ended, self._suspect, self._overflow)
        self.clock = clock if clock is not None else LineClock(line_rate)
        self.pluses = PlusGuard(modes.guard)
        self.stage = Stage.ENTERING
        self.outcome: Optional[str] = None
        self.done: asyncio.Future = loop.create_future()  # the session is over: the line is everyone's
        self.entered = False
        self._id = conn.id  # the module's id for the connection, for the log (it may lose it on the way)
        self.bytes_in = 0
        self.bytes_out = 0
        self._word: Optional[bytes] = None      # the module's word that ended raw data
        self._lost = False                      # the module or the port went
        self._leaving = False                   # the block ended: no going back into data mode
        self._giving_up = False                 # the module never left data mode: raw data dropped
        self._answer_at = 0.0                   # when the last answer to the escape came
        self._held = 0                          # the payload's "+" that the PlusGuard holds back
        self._flush: Optional[asyncio.TimerHandle] = None
        self._entering: Optional[asyncio.Future] = None
        self._task: Optional[asyncio.Future] = None  # the proof under way
        self._braking: Optional[asyncio.Future] = None  # the module is asked to hold this connection's bytes
        self._change = loop.create_future()     # resolved at every change of stage (writers wait on it)
        self.hold = ReadHold(self.engine, conn) if core.flow_control() else None  # a slow reader holds the module

    # --- for the dialect ----------------------------------------------------------------------
    async def command(self, text, **options):
        return await self.engine.command(text, owner=self, **options)

    async def enter_command(self, text, *, raw_after=frozenset(), raw_after_prompt: bool = False, **options):
        """The command whose answer hands the line over (its final ``CONNECT``, or the prompt,
        answered as final ``>``); the dialect judges any other answer."""
        return await self.engine.command(text, owner=self, raw=self.raw, raw_after=raw_after,
                                         raw_after_prompt=raw_after_prompt, raw_words=self.modes.words(self.conn),
                                         check=False, **options)

    def deliver(self, data: bytes) -> None:
        """Bytes of the connection that the dialect fetched by command while leaving."""
        self.bytes_in += len(data)
        self.core.deliver_raw(self.conn, data)

    # --- entering -----------------------------------------------------------------------------
    async def start(self, opening: Optional[Tuple[str, int]] = None) -> None:
        """Hold the line and switch the open connection (or open one, with ``opening``) into data
        mode. If it raises, the session is over and the socket no longer refers to it; a caller
        that stops waiting leaves the session to finish by itself."""
        if self.engine.held_by is not None:
            self._end("refused")
            raise os_error(errno.EBUSY, "another socket's data mode holds the modem's line")
        self.engine.hold(self)
        task = self._entering = asyncio.ensure_future(self._enter(opening))
        try:
            await asyncio.shield(task)
        except asyncio.CancelledError:
            task.add_done_callback(lambda _: asyncio.ensure_future(self.finish()))
            raise

    async def _enter(self, opening) -> None:
        try:
            if opening is None:
                await self.modes.enter(self)
            else:
                await self.modes.open(self, *opening)
            if not self.raw.active:
                raise os_error(errno.EIO, "the modem did not enter data mode")
        except BaseException:
            if not self.raw.active:
                self._end("refused")
            else:  # the line was handed over all the same: leave it properly
                self.entered, self._leaving = True, True
                self._begin_proof()
            raise
        self.entered = True
        self._id = self.conn.id
        self.clock.restart(self._loop.time())
        self._set_stage(Stage.CARRYING)
        log.info("socket %s in data mode", self._id)
        if self.engine.raw_suspended:  # a word came with the first bytes
            self._begin_proof()

    # --- the line -----------------------------------------------------------------------------
    def _arrived(self, data: bytes) -> None:
        self.bytes_in += len(data)
        self.core.deliver_raw(self.conn, data)
        if self.hold is not None:
            self.hold.arrived()
        if self.conn.buffered >= RECEIVE_HIGH and self._braking is None:
            brake = getattr(self.engine.transport, "brake", None)
            if brake is not None:  # a line that can ask the module to hold them (a CMUX channel's MSC)
                brake(True)
                self._braking = asyncio.ensure_future(self._release_brake(brake))

    async def _release_brake(self, brake) -> None:
        """The module goes on once the reader has taken most of what waits, or the session ends."""
        conn = self.conn
        while conn.buffered > RECEIVE_HIGH // 4 and not self.done.done():
            await asyncio.wait([conn.notifier.next_change(), self.done], return_when=asyncio.FIRST_COMPLETED)
        brake(False)
        self._braking = None

    def _read_again(self) -> None:
        """The port is read again whatever the caller left unread: the line is needed (a proof,
        the end of the session)."""
        if self.hold is not None:
            self.hold.release()

    def _suspect(self, word: bytes) -> None:
        """A word of the module's (or the peer's same bytes) in the stream: prove which (entering or
        going back into data mode, once that is done: see :attr:`DataLine.raw_suspended`). The
        escape's answers are told each time one comes: the last one counts only if it came late
        enough to be the module's."""
        if word == self.modes.escape_answer:
            self._answer_at = self._loop.time()
        if self.stage is Stage.CARRYING:
            self._begin_proof()

    def _ended(self, word: Optional[bytes]) -> None:
        self._word = word
        if word is None and not self._giving_up:  # the port or the module went: nothing to restore
            self._lost = True
            if self._task is None or self._task.done():
                self._loop.call_soon(self._end, "lost")
        self._changed()

    def _overflow(self, held: int) -> None:
        self.core.fail(self.conn, os_error(errno.ENOBUFS, f"{held} bytes came while the end of data mode was "
                                                          "being made sure of"))

    async def send(self, data, timeout: Optional[float]) -> Optional[int]:
        """Write ``data`` to the line; the count taken before ``timeout``. None when the session
        has handed the socket back to command mode (send by command then)."""
        view = memoryview(data).cast("B")
        deadline = None if timeout is None else self._loop.time() + timeout
        sent = 0
        while sent < len(view):
            if self.stage is not Stage.CARRYING:
                if self.stage is Stage.ENDED:
                    return sent or None
                if not await self._wait_change(deadline):
                    if sent:
                        return sent
                    raise timeout_error("the modem's line was busy leaving data mode")
                continue
            try:
                left = None if deadline is None else max(0.0, deadline - self._loop.time())
                await asyncio.wait_for(self.engine.writable(), left)
            except asyncio.TimeoutError:
                if sent:
                    return sent
                raise timeout_error("the serial line took nothing in time") from None
            if self.stage is Stage.CARRYING:
                piece = view[sent:sent + WRITE_PIECE]
                self._write_payload(piece)
                sent += len(piece)
        return sent

    def _write_payload(self, piece) -> None:
        data = piece if not self._held else b"+" * self._held + bytes(piece)
        count = self.pluses.admit(data, self._loop.time(), self.clock)
        if count:
            self.engine.write_raw(data[:count])
            self.bytes_out += count
        self._held = len(data) - count
        if self._held and self._flush is None:
            self._flush = self._loop.call_at(self.pluses.release_at + FLUSH_DELAY, self._flush_plus)

    def _flush_plus(self) -> None:
        """Held "+" go alone: the lone ones before them no longer count for the module."""
        self._flush = None
        if self.stage is Stage.CARRYING and self._held and self.engine.gone is None:
            self._write_payload(b"")

    def _cancel_flush(self) -> None:
        if self._flush is not None:
            self._flush.cancel()
            self._flush = None

    def _set_stage(self, stage: Stage) -> None:
        self.stage = stage
        self._changed()

    def _changed(self) -> None:
        if not self._change.done():
            self._change.set_result(None)
        self._change = self._loop.create_future()

    async def _wait_change(self, deadline: Optional[float]) -> bool:
        left = None if deadline is None else deadline - self._loop.time()
        if left is not None and left <= 0:
            return False
        done, _ = await asyncio.wait([self._change], timeout=left)
        return bool(done)

    async def _sleep_until(self, when: float) -> None:
        delay = when - self._loop.time()
        if delay > 0:
            await asyncio.sleep(delay)

    # --- leaving ------------------------------------------------------------------------------
    async def finish(self) -> None:
        """Back to command mode and the line released; callers at the same time share one escape."""
        self._leaving = True
        if self._entering is not None and not self._entering.done():
            await asyncio.wait([self._entering])
        while not self.done.done():
            if self._task is None or self._task.done():
                if self.stage is not Stage.CARRYING:
                    await asyncio.shield(self.done)
                    return
                self._begin_proof()
            await asyncio.shield(self._task)

    def _begin_proof(self) -> None:
        """Writers stop at once; the proof runs as a task of its own (no caller's cancel stops it)."""
        if self._task is not None and not self._task.done():
            return
        self._cancel_flush()
        self._read_again()  # the module's answer comes after what it still has to send
        self._set_stage(Stage.PROVING)
        self._task = asyncio.ensure_future(self._prove())

    async def _prove(self) -> None:
        """Out of data mode for sure; then back in (the word was the peer's) or the session ends."""
        try:
            while True:
                outcome = await self._leave_raw()
                if outcome != "escaped":
                    break
                outcome = "left"
                if self._leaving or not await self._resume():
                    break
                if not self.engine.raw_suspended:
                    return
                self._set_stage(Stage.PROVING)  # another word came with the first bytes: prove again
            await self._wind_up(outcome)
        except Exception as exc:  # a session must end whatever a command did
            log.warning("leaving data mode: %r", exc)
            self.engine.mark_out_of_step()
            self._end("failed")

    async def _leave_raw(self) -> str:
        """Make sure the module is in command mode: "escaped" (it left for our ``+++``), "closed"
        (it had left by itself: the peer closed), "lost", or "failed"."""
        while self._leaving and self._held and self.raw.active:  # the payload's last "+" before the escape
            await self._sleep_until(self.pluses.release_at + FLUSH_DELAY)
            if self.raw.active:
                self._write_payload(b"")
        resolved = False
        for attempt in range(ESCAPE_ATTEMPTS):
            if not self.raw.active:
                break
            if attempt:  # no answer and no word: the module saw bytes within the guard time
                log.warning("the modem did not take the data-mode escape; trying again")
            if await self._silence() and await self._escape_once():
                resolved = True
                break
        if not resolved and not self._lost:  # three escapes and never a word: if the module answers
            # now, it had left by itself without one (a peer's close, on a module set so)
            log.warning("the modem did not answer the data-mode escape: asking whether it left by itself")
            self._giving_up = True
            self.engine.abandon_raw()
            self._word = b""
        if self._lost or self._word in self.modes.words(self.conn).restarts:
            return "lost"
        escaped = self._word == self.modes.escape_answer
        if escaped and self.modes.settle:
            await asyncio.sleep(self.modes.settle)
        if not await self._confirm():
            return "lost" if self._lost else "failed"
        return "escaped" if escaped else "closed"

    async def _silence(self) -> bool:
        """The guard's silence since the last byte left the port; False if raw data ended meanwhile."""
        while self.engine.unsent and self.raw.active:  # what the transport still holds goes first
            rate = self.clock.rate
            await asyncio.sleep(max(0.001, min(0.05, self.engine.unsent / rate if rate else 0.01)))
        if await sent_by_os(self.engine.transport):
            self.clock.free = self._loop.time()  # the OS says the last byte has left
        await self._sleep_until(self.clock.free + guard_silence(self.modes.guard))
        return self.raw.active

    async def _escape_once(self) -> bool:
        """``+++``, then the module's word: True once raw data is resolved (or has ended)."""
        self.engine.write_raw(ESCAPE)
        escaped_at = self.clock.add(len(ESCAPE), self._loop.time())
        self.engine.expect_raw_end(self.modes.escape_answer)
        answer_by = escaped_at + guard_silence(self.modes.guard)  # nothing is written before this
        earliest = escaped_at + self.modes.guard * EARLIEST_ANSWER  # an answer before this is the peer's
        backlog = OUTPUT_BACKLOG / self.clock.rate if self.clock.rate else ANSWER_SLACK
        give_up = answer_by + ANSWER_SLACK + backlog
        await self._sleep_until(answer_by - QUIET)
        seen = self.engine.stats.bytes_read
        await self._sleep_until(answer_by)
        while self.raw.active:
            read, now = self.engine.stats.bytes_read, self._loop.time()
            answered = self._answer_at >= earliest
            if read == seen:  # quiet: what the module had to say has come
                word = self.engine.raw_end(answered)
                if word == self.modes.escape_answer or now >= answer_by + (ANSWER_WAIT if word else ANSWER_SLACK):
                    break
            if now >= give_up:
                break
            seen = read
            await asyncio.sleep(QUIET)
        return self.raw.active and self.engine.resolve_raw(self._answer_at >= earliest)

    async def _confirm(self) -> bool:
        """A command only the module answers; the first may meet the "+++" a module in command
        mode took for the start of a line."""
        text, prefix = self.engine.probe_command
        for _ in range(PROBE_ATTEMPTS):
            if self._lost:
                return False
            try:
                response = await self.command(text, timeout=PROBE_TIMEOUT, response_prefixes=(prefix,) if prefix else (),
                                              check=False)
            except CommandTimeout:
                continue
            if response.final.ok and (prefix is None or response.first(prefix) is not None):
                return True
        return False

    async def _resume(self) -> bool:
        """The word was the peer's: it was delivered as data; back into data mode."""
        try:
            await self.modes.resume(self)
        except (OSError, CommandFailed, CommandTimeout, ModemGone) as exc:
            log.info("socket %s stays in command mode (%s)", self._id, exc)
            return False
        if not self.raw.active:
            return False
        self._word = None
        self.clock.restart(self._loop.time())
        self.pluses = PlusGuard(self.modes.guard)
        self._set_stage(Stage.CARRYING)
        if self._held:
            self._write_payload(b"")
        log.info("socket %s in data mode again (the peer's data looked like the module's close)", self._id)
        return True

    async def _wind_up(self, outcome: str) -> None:
        """The dialect's commands after the mode, then the session's end."""
        try:
            if outcome == "closed" and await self.modes.alive(self):
                log.warning("socket %s: the module still holds the connection after a close word: the end "
                            "of data mode could not be told apart from the data", self._id)
                outcome = "failed"
                await self.modes.leave(self, False)
            elif outcome in ("left", "closed"):
                await self.modes.leave(self, outcome == "closed")
            elif outcome == "failed":
                self.engine.mark_out_of_step()
        except (OSError, CommandFailed, CommandTimeout, ModemGone) as exc:
            log.warning("restoring command mode after data mode: %s", exc)
        self._end(outcome)

    def _end(self, outcome: str) -> None:
        """The session is over: the socket no longer refers to it, the line is everyone's, and the
        connection is told what became of it."""
        if self.done.done():
            return
        if self._lost and outcome != "refused":
            outcome = "lost"
        self.outcome = outcome
        self._cancel_flush()
        self._read_again()
        conn, core = self.conn, self.core
        if conn.data_session is self:
            conn.data_session = None
        self.engine.release(self)
        if outcome == "closed" or (outcome == "left" and not self.modes.switches_open):
            core.data_mode_closed(conn, released=not self.modes.switches_open)
        elif outcome == "lost":
            core.fail(conn, os_error(errno.ECONNRESET, "the module restarted during data mode"))
        elif outcome == "failed":
            core.fail(conn, os_error(errno.EIO, "data mode did not end cleanly: the stream cannot be trusted"))
        if outcome != "refused":
            log.info("socket %s back in command mode (%s)", self._id, outcome)
        self._set_stage(Stage.ENDED)
        self.done.set_result(outcome)

    def abandon(self) -> None:
        """The module was lost (restart, network, port): nothing to restore, the line is free."""
        self._lost = True
        self._read_again()
        if self.raw.active:
            self.engine.abandon_raw()
        elif self._task is None or self._task.done():
            self._end("lost")
