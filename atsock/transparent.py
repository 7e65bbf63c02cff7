"""Data mode: one socket's bytes carried raw on the serial line (Quectel's transparent access mode,
ESP-AT's passthrough), for a bulk transfer without a command and a turnaround per chunk.

A :class:`DataSession` holds the engine from the first command that enters the mode to the last one
that restores command mode: commands for anything else wait in the queue, in order, and go out once
it is over (the module answers nothing else meanwhile, and reports nothing: no URCs). The dialect
gives the commands around the mode and the module's words (:class:`atsock.dialect.DataModeCommands`);
the session does the rest:

* received bytes go straight to the socket's inbox; sent bytes straight to the port, paced by the
  transport's flow control;
* leaving is ``+++`` alone between two silences of the module's guard time. Silence counts from the
  moment the last byte has left the host's UART. A real serial device tells (``tcdrain``); a pty
  (the emulator) does not, so the session also keeps the line's own clock: every write occupies
  ``len / (baud / 10)`` seconds of line after the previous one ends;
* the module's answer to the escape (``OK``, ``+QUITT``) is looked for only once it can have come
  (a guard time after ``+++``), so that the same bytes in the peer's data earlier cannot pass for it;
* a word that ends the mode by itself (``NO CARRIER``, ``CLOSED``: the peer closed) ends the session:
  every byte before it is delivered, then the socket reaches end of stream.

The module's words travel in the same stream as the peer's data: a peer that sends exactly such a
word (``\\r\\nNO CARRIER\\r\\n`` on Quectel, ``CLOSED\\r\\n`` on ESP-AT) ends data mode early. That is
the nature of these modes; command mode has no such ambiguity.
"""
import asyncio
import errno
import logging
from typing import Optional, Tuple

from .engine import RawLine
from .errors import CommandFailed, CommandTimeout, ModemGone, os_error, timeout_error
from .readhold import ReadHold
from .transport import sent_by_os

log = logging.getLogger("atsock.datamode")

ESCAPE = b"+++"
GUARD_MARGIN = 1.1      # silences are made this much longer than the module needs...
GUARD_EXTRA = 0.005     # ...and this much more (timers are not exact)
ANSWER_SLACK = 2.0      # seconds of silence after the guard before the module's answer is given up
SILENT_LEAVE = 0.2      # seconds without raw data after which a module that leaves silently has left
OUTPUT_BACKLOG = 65536  # bytes a module may still have to send when it answers the escape
ESCAPE_ATTEMPTS = 3
EARLIEST_ANSWER = 0.9   # share of the guard time after "+++" before which no answer can be the module's
WRITE_PIECE = 16 * 1024


class DataSession:
    """``core`` is the :class:`atsock.socketcore.SocketCore`; ``line_rate`` the port's bytes a second
    (None: unknown, the guard alone is waited)."""

    def __init__(self, core, conn, modes, line_rate: Optional[float]):
        loop = asyncio.get_running_loop()
        self._loop = loop
        self.core = core
        self.engine = core.engine
        self.conn = conn
        self.modes = modes
        self.line_rate = line_rate
        self.escape_answer: Optional[bytes] = modes.escape_answer  # the dialect may settle it while entering
        self.raw = RawLine(self._arrived, self._ended)
        self.ended: asyncio.Future = loop.create_future()  # the word that ended raw data (see RawLine)
        self.done: asyncio.Future = loop.create_future()   # the session is over: the engine is everyone's
        self.entered = False
        self.bytes_in = 0
        self.bytes_out = 0
        self._escaping = False
        self._lost = False
        self._wind_up: Optional[asyncio.Future] = None
        self._entering: Optional[asyncio.Future] = None
        self._finishing: Optional[asyncio.Future] = None
        self._line_free = 0.0  # when the last byte written will have left the host's UART
        self._writers = 0
        self._writers_gone = asyncio.Event()
        self._writers_gone.set()
        self.hold = ReadHold(self.engine, conn) if core.flow_control() else None  # a slow reader holds the module

    # --- for the dialect ----------------------------------------------------------------------
    async def command(self, text, **options):
        return await self.engine.command(text, owner=self, **options)

    async def enter_command(self, text, *, raw_after=frozenset(), raw_after_prompt: bool = False, **options):
        """The command whose answer hands the line over (its final ``CONNECT``, or the prompt,
        answered as final ``>``); the dialect judges any other answer."""
        return await self.engine.command(text, owner=self, raw=self.raw, raw_after=raw_after,
                                         raw_after_prompt=raw_after_prompt, raw_ends=self.modes.ends(self.conn),
                                         check=False, **options)

    # --- entering -----------------------------------------------------------------------------
    @property
    def carrying(self) -> bool:
        """True while the line carries this socket's bytes and no escape has begun."""
        return self.raw.active and not self._escaping

    async def start(self, opening: Optional[Tuple[str, int]] = None) -> None:
        """Hold the engine and switch the open connection (or open one, with ``opening``) into data
        mode. A caller that stops waiting leaves the session to finish by itself."""
        if self.engine.held_by is not None:
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
        except BaseException:
            self._finish_unentered()
            raise
        if not self.raw.active and not self.ended.done():
            self._finish_unentered()
            raise os_error(errno.EIO, "the modem did not enter data mode")
        self.entered = True
        log.info("socket %s in data mode", self.conn.id)

    def _finish_unentered(self) -> None:
        if not self.done.done():
            self.conn.data_session = None
            self.engine.release(self)
            self.done.set_result(None)

    # --- the line -----------------------------------------------------------------------------
    def _arrived(self, data: bytes) -> None:
        self.bytes_in += len(data)
        self.core.deliver_raw(self.conn, data)
        if self.hold is not None:
            self.hold.arrived()

    def _ended(self, word: Optional[bytes]) -> None:
        if not self.ended.done():
            self.ended.set_result(word)
        if not self._escaping and self._wind_up is None:
            self._wind_up = asyncio.ensure_future(self._after(word))  # the peer closed, or the port went

    def _clock(self, count: int) -> None:
        now = self._loop.time()
        self._line_free = max(self._line_free, now) + (count / self.line_rate if self.line_rate else 0.0)

    async def send(self, data, timeout: Optional[float]) -> int:
        """Write ``data`` to the line; returns the count the port took before ``timeout``."""
        view = memoryview(data).cast("B")
        deadline = None if timeout is None else self._loop.time() + timeout
        sent = 0
        self._writers += 1
        self._writers_gone.clear()
        try:
            while sent < len(view):
                if not self.carrying:
                    if sent:
                        return sent
                    raise os_error(errno.EPIPE, "the connection left data mode (the peer closed it)")
                try:
                    left = None if deadline is None else max(0.0, deadline - self._loop.time())
                    await asyncio.wait_for(self.engine.writable(), left)
                except asyncio.TimeoutError:
                    if sent:
                        return sent
                    raise timeout_error("the serial line took nothing in time") from None
                piece = view[sent:sent + WRITE_PIECE]
                self.engine.write_raw(piece)
                self._clock(len(piece))
                sent += len(piece)
                self.bytes_out += len(piece)
            return sent
        finally:
            self._writers -= 1
            if not self._writers:
                self._writers_gone.set()

    # --- leaving ------------------------------------------------------------------------------
    async def finish(self) -> None:
        """Back to command mode (escaping if the line still carries data) and the engine released;
        callers at the same time share one escape."""
        if self._finishing is None:
            self._finishing = asyncio.ensure_future(self._finish_once())
        await asyncio.shield(self._finishing)

    async def _finish_once(self) -> None:
        if self._entering is not None and not self._entering.done():
            await asyncio.wait([self._entering])
        if self.done.done():
            return
        if self._wind_up is None:
            if self.raw.active:
                await self._escape()
            if self._wind_up is None:
                word = self.ended.result() if self.ended.done() else b""
                self._wind_up = asyncio.ensure_future(self._after(word, left=True))
        await self._wind_up

    async def _escape(self) -> None:
        self._escaping = True
        self._read_again()  # the module's answer comes after what it still has to send
        await self._writers_gone.wait()
        while self.engine.unsent and self.raw.active:  # what the transport still holds goes first
            await asyncio.sleep(max(0.001, min(0.05, self.engine.unsent / self.line_rate if self.line_rate else 0.01)))
        if await sent_by_os(self.engine.transport):
            self._line_free = self._loop.time()  # the OS says the last byte has left
        for attempt in range(ESCAPE_ATTEMPTS):
            if attempt:  # the module saw bytes within the guard time (a slow far end): "+++" was data
                log.warning("the modem did not take the data-mode escape; trying again")
            if await self._escape_once():
                return
        if self.escape_answer is not None:  # the module does not leave: its state is unknown
            log.warning("the modem did not answer the data-mode escape; resynchronising")
            self.engine.mark_out_of_step()
            self.core.fail(self.conn, os_error(errno.EIO, "the modem did not leave data mode when asked"))
        self.engine.leave_raw()

    async def _escape_once(self) -> bool:
        """One ``+++`` between silences; True once raw data has ended (by the answer, by the peer's
        close, or for a module that leaves silently, by the silence after its guard)."""
        guard = self.modes.guard
        if not await self._quiet(max(self._line_free, self._loop.time()) + guard * GUARD_MARGIN + GUARD_EXTRA):
            return True  # the mode ended meanwhile (the peer closed)
        self.engine.write_raw(ESCAPE)
        self._clock(len(ESCAPE))
        answer = self.escape_answer
        if answer is not None:
            self._loop.call_at(self._line_free + guard * EARLIEST_ANSWER, self._expect, answer)
        # the answer queues behind whatever the module still had to send us (and a module that
        # leaves silently has left only once that has come): while raw data keeps coming, wait on,
        # as long as the module's output could hold it
        slack = ANSWER_SLACK if answer is not None else SILENT_LEAVE
        until = self._line_free + guard * GUARD_MARGIN + GUARD_EXTRA + (slack if answer is not None else 0.0)
        latest = until + (OUTPUT_BACKLOG / self.line_rate if self.line_rate else ANSWER_SLACK)
        seen = self.bytes_in
        while await self._quiet(until) and self.bytes_in != seen and self._loop.time() < latest:
            seen, until = self.bytes_in, min(latest, self._loop.time() + slack)
        if not self.raw.active:
            return True
        if answer is None:
            self.engine.leave_raw()  # a module that leaves silently has left by now
            return True
        return False

    async def _quiet(self, until: float) -> bool:
        """Wait until ``until`` unless raw data ends first; True if it is still going on."""
        if not self.ended.done():
            await asyncio.wait([self.ended], timeout=max(0.0, until - self._loop.time()))
        return not self.ended.done()

    def _expect(self, answer: bytes) -> None:
        if self.raw.active:
            self.engine.expect_raw_end(answer)

    async def _after(self, word: Optional[bytes], left: bool = False) -> None:
        """Raw data is over (``word`` as :class:`RawLine` gives it): the dialect's commands, then the
        engine back to everyone and the socket told what became of its connection."""
        conn = self.conn
        peer_closed = bool(word) and word != self.escape_answer
        self._read_again()
        try:
            if word is not None and self.entered and not self._lost:
                if left and self.modes.settle:
                    await asyncio.sleep(self.modes.settle)
                try:
                    await self.modes.leave(self, peer_closed)
                except (OSError, CommandFailed, CommandTimeout, ModemGone) as exc:
                    log.warning("restoring command mode after data mode: %s", exc)
        finally:
            conn.data_session = None
            self.engine.release(self)
            if self.entered and word is not None and not self._lost and conn.id is not None \
                    and (peer_closed or not self.modes.switches_open):
                self.core.module_closed(conn.id, released=not self.modes.switches_open)
            log.info("socket %s back in command mode (%s)", conn.id,
                     "port lost" if word is None else "peer closed" if peer_closed else "left")
            if not self.done.done():
                self.done.set_result(word)

    def _read_again(self) -> None:
        if self.hold is not None:
            self.hold.release()

    def abandon(self) -> None:
        """The module was lost (restart, network, port): nothing to restore, the engine is free."""
        self._lost = True
        self._read_again()
        if self.raw.active:
            self.engine.leave_raw()
        elif not self.done.done() and self._wind_up is None:
            self._wind_up = asyncio.ensure_future(self._after(None))
