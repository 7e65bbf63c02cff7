"""The engine: one serial port, one reader, a queue of commands, URC dispatch.

It is an ``asyncio.Protocol`` on the loop of :mod:`atsock.wire.loop_thread`. Bytes from the port go
through the sans-I/O :class:`~atsock.wire.channel.ATChannel`; the events come back here and are routed:
intermediate lines and finals to the command in flight, prompts to the payload writer, URCs to the
handlers the dialect registered by prefix or pattern.

Commands wait in a FIFO queue and go out one at a time. The next one is written straight from the
reader callback that saw the previous one's final result, and a timeout is one watchdog timer for
whatever is in flight, not a task: an AT exchange costs no task switches of its own. A caller that
chains exchanges (the chunks of a send) passes ``on_done`` to :meth:`Engine.submit` and queues the
next command from that callback, in the same wake-up that parsed the answer. A caller that stops waiting (its own timeout,
a cancel) does not stop the exchange: a command that was written is seen through to its final
result, a prompt still gets its payload, so the channel stays in step with the modem. A command
whose final result never comes marks the channel for resynchronisation: ``AT`` probes go out
before anything else until one is answered ``OK``.

Transparent modes: a command may hand the line over to raw data; while it is raw, every other
command waits in the queue. The hold and the raw line are :mod:`atsock.wire.rawline`'s.
"""
import asyncio
import logging
import re
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Callable, Deque, FrozenSet, Iterable, List, Optional, Tuple
from weakref import WeakValueDictionary

from ..errors import CommandFailed, CommandTimeout, ModemGone, ProtocolViolation
from .atcmd import CommandLine, build
from .channel import (ATChannel, Command, Final, Intermediate, Prompt, ProtocolError, RawData, RawEnd, RawOverflow,
                      RawSuspect, Urc)
from .escape import BOOT_NOTICES, DEFAULT_TIMING, leave_stale_data_mode
from .exchange import EngineStats, Response
from .rawline import RawLine, RawLineHold
from .rawstream import RawWords
from .wiretrace import received, sent, tracing as _tracing

log = logging.getLogger("atsock.engine")

UrcHandler = Callable[[Urc], None]
UrcMatcher = Callable[[str], bool]
Guard = Callable[[], Optional[BaseException]]
Done = Callable[[Optional["Response"], Optional[BaseException]], None]


RESYNC_ATTEMPTS = 3
RESYNC_TIMEOUT = 1.0
FRAME_IDLE = 3.0  # a line or payload that stops arriving half-way for this long is truncated
RAW_HOLD = 0.05   # raw bytes that might begin the mode's ending word are data if nothing follows


@dataclass(slots=True)  # (one per command: slots make it quicker to build and to read)
class _Pending:
    command: Command
    payload: Optional[bytes]
    timeout: float
    prompt_timeout: float
    final: Optional[asyncio.Future]  # awaited by command(); None when ``on_done`` takes the verdict
    on_done: Optional[Done] = None
    probe: bool = False          # an AT probe of a resync: its verdict is the engine's own business
    guard: Optional[Guard] = None  # checked when the command's turn comes: an exception stops it unsent
    owner: object = None         # the holder it belongs to (it may go out while the engine is held)
    raw: Optional[RawLine] = None  # where the line's data goes once the answer hands it over
    lines: List[Intermediate] = field(default_factory=list)
    prompted: bool = False
    written: bool = False        # the module has it: its outcome is known only from its answer
    withdrawn: bool = False      # its caller gave up before it went out
    deadline: float = 0.0        # the watchdog's verdict time while it is in flight
    budget: float = 0.0
    written_at: float = 0.0      # when it went out (time.monotonic), for the exchange's duration

    @property
    def abandoned(self) -> bool:
        return self.withdrawn or (self.final is not None and self.final.done())

    def withdraw(self) -> None:
        """The caller no longer wants it: it is not written if it has not been yet."""
        self.withdrawn = True


class Engine(RawLineHold, asyncio.Protocol):
    def __init__(self, channel: ATChannel):
        self.channel = channel
        self.stats = EngineStats()
        self._urc_handlers: List[Tuple[UrcMatcher, UrcHandler]] = []
        self._error_handlers: List[Callable[[str], None]] = []
        self._gone_handlers: List[Callable[[], None]] = []
        self._unresponsive_handlers: List[Callable[[], None]] = []
        self._transport: Optional[asyncio.Transport] = None
        self._read_hint: Optional[Callable[[Optional[int]], None]] = None  # the transport's expect(), if any
        self._queue: Deque[_Pending] = deque()
        self._active: Optional[_Pending] = None
        self._needs_resync = False
        self._failed_probes = 0
        self._gave_up = False  # probes stay unanswered: no more until someone needs the modem
        self._watchdog: Optional[asyncio.TimerHandle] = None  # one timer for the command in flight
        self._watch_at = 0.0
        self._stall_timer: Optional[asyncio.TimerHandle] = None
        self._stall_at: Optional[float] = None  # when a half-arrived frame counts as stalled
        self._holder: object = None  # while held, only this holder's commands go out
        self._raw: Optional[RawLine] = None
        self._writable: Optional[asyncio.Event] = None  # cleared while the transport asks us to pause
        # commands of submit(), by text and finals, while one is queued or in flight: a chain queues
        # its next command from the completion of the one before, so a chunk length or read size it
        # repeats is built once, and the one-off lengths (a send's last chunk) go with their exchange
        self._chained: "WeakValueDictionary[tuple, Command]" = WeakValueDictionary()
        self._routing = False  # while one read's events are routed, the next command waits (see data_received)
        #: resync probe: a command whose answer carries a line only it produces, so that a stray
        #: OK left over from garbage cannot pass for the probe's (dialects set their own)
        self.probe_command: Tuple[CommandLine, Optional[str]] = (build("AT"), None)
        #: data mode's (guard, settle) seconds: how a module left in data mode is brought back at
        #: start-up (the longest the dialects document, until the modem knows its own)
        self.escape_timing: Tuple[float, float] = DEFAULT_TIMING
        self.gone: Optional[BaseException] = None
        self.unhandled = 0  # lines no one took (boot text, noise), and the last of them
        self.boot_notices = 0  # how often a module said it had started (atsock.wire.escape.BOOT_NOTICES)
        self.last_unhandled: Optional[str] = None

    # --- registration (the dialect's side) ------------------------------------------------------
    def on_urc(self, prefix: str, handler: UrcHandler) -> None:
        self.channel.add_urc_prefix(prefix)
        self._urc_handlers.append((lambda text: text.startswith(prefix), handler))

    def on_urc_pattern(self, pattern: "re.Pattern[str]", handler: UrcHandler) -> None:
        """For URCs without a fixed prefix, such as ESP's ``0,CONNECT``."""
        self.channel.add_urc_pattern(pattern)
        self._urc_handlers.append((lambda text: pattern.match(text) is not None, handler))

    def on_protocol_error(self, handler: Callable[[str, Optional[str]], None]) -> None:
        """``handler(reason, header)``; ``header`` is the refused frame header, if there was one."""
        self._error_handlers.append(handler)

    def on_gone(self, handler: Callable[[], None]) -> None:
        self._gone_handlers.append(handler)

    def on_unresponsive(self, handler: Callable[[], None]) -> None:
        """Called when resync probes stay unanswered: the module is not talking any more."""
        self._unresponsive_handlers.append(handler)

    def revive(self) -> None:
        """Forget a lost port before a new one is attached (recovery after an unplug)."""
        self.gone = None
        self._needs_resync = False
        self._failed_probes = 0
        self._gave_up = False
        self._drop_frames()

    def take_over_resync(self) -> None:
        """A caller is about to probe the module by itself (at each line rate in turn): no probes
        of the engine's own go out meanwhile, and its count of failed ones starts again."""
        self._needs_resync = False
        self._failed_probes = 0
        self._gave_up = False

    def abandon_in_flight(self, error: BaseException) -> None:
        """The module restarted: the command in flight will never be answered. It fails with
        ``error`` now (instead of at its time-out, up to minutes for a send), and the channel
        forgets whatever was half-read; commands queued behind it go out to the new module."""
        pending = self._active
        if pending is None:
            return
        self._drop_frames()
        self._finish(pending, error=error)

    # --- asyncio.Protocol -----------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]
        self._read_hint = getattr(transport, "expect", None)

    def data_received(self, data: bytes) -> None:
        """Route what one read brought, then start the next command. The channel classified every
        event of the read against the command it had in flight; a command begun part-way (after a
        protocol error, say) would have the rest of the read taken as its answer."""
        stats = self.stats
        stats.bytes_read += len(data)
        stats.reads += 1
        channel = self.channel
        self._routing = True
        try:
            events = channel.receive(data)
            if events:
                trace = _tracing()
                for event in events:
                    self._route(event, trace)
        finally:
            self._routing = False
        if self._active is None:
            self._pump()
        due, partial, held = channel.waiting()
        if self._read_hint is not None:
            self._read_hint(due)
        if partial:
            self._watch_stall(FRAME_IDLE)
        elif held:
            self._watch_stall(RAW_HOLD)
        else:
            self._stall_at = None

    def _drop_frames(self) -> None:
        """Forget what is half-read; the port wakes the reader for any byte again."""
        self.channel.abandon()
        if self._read_hint is not None:
            self._read_hint(None)

    def _watch_stall(self, seconds: float) -> None:
        """A frame that stops half-way is noticed by one timer that is armed rarely: each read only
        moves the time it checks against."""
        loop = asyncio.get_running_loop()
        self._stall_at = loop.time() + seconds
        if self._stall_timer is None:
            self._stall_timer = loop.call_at(self._stall_at, self._check_stall)

    def _check_stall(self) -> None:
        self._stall_timer = None
        if self._stall_at is None:
            return
        loop = asyncio.get_running_loop()
        if loop.time() < self._stall_at:
            self._stall_timer = loop.call_at(self._stall_at, self._check_stall)
            return
        self._stall_at = None
        if self.channel.raw_held:
            for event in self.channel.release_held():
                self._route(event)
        elif self.channel.partial:
            self._protocol_error(f"frame stopped arriving half-way ({self.channel.partial} bytes held)")

    def connection_lost(self, exc: Optional[Exception]) -> None:
        if self.gone is not None:
            return  # already handled (a reopen attempt that failed)
        self._read_hint = None  # (the next transport brings its own)
        self.gone = exc or ModemGone("serial port closed")
        log.log(logging.WARNING if exc else logging.DEBUG, "serial port closed: %s", exc)
        waiting = ([self._active] if self._active else []) + list(self._queue)
        self._active = None
        self._queue.clear()
        for pending in waiting:
            self._settle(pending, None, ModemGone(str(self.gone)))
        if self._writable is not None:
            self._writable.set()  # a raw writer waiting for room finds the port gone
        self._end_raw(None)
        for handler in self._gone_handlers:
            handler()

    def pause_writing(self) -> None:
        if self._writable is None:
            self._writable = asyncio.Event()
        self._writable.clear()

    def resume_writing(self) -> None:
        if self._writable is not None:
            self._writable.set()

    def _route(self, event, trace: Optional[bool] = None) -> None:
        """One event to whoever takes it (``trace``: whether the wire trace is on, when known)."""
        if trace is None:
            trace = _tracing()
        kind = type(event)
        pending = self._active
        if kind is Intermediate:
            if trace:
                received(event.text, f" [{len(event.data)} bytes]" if event.data is not None else "")
            if pending is not None:
                pending.lines.append(event)
            if event.text in BOOT_NOTICES:  # (in the middle of a probe's answer, where no URC is known)
                self.boot_notices += 1
        elif kind is Final:
            if trace:
                received(event.text)
            if pending is not None:
                self._finish(pending, Response(event, pending.lines))
        elif kind is Urc:
            if trace:
                received(event.text, (f" [{len(event.data)} bytes]" if event.data is not None else "") + " (urc)")
            self._dispatch_urc(event)
        elif kind is RawData:
            if self._raw is not None:
                self._raw.sink(event.data)
            else:
                log.warning("%d bytes of raw data with no one to take them", len(event.data))
        elif kind is Prompt:
            self._on_prompt(pending)
        elif kind is RawSuspect:
            if trace:
                received(event.word, " (may end data mode)")
            if self._raw is not None:
                self._raw.suspect(event.word)
        elif kind is RawEnd:
            if trace:
                received(event.word, " (end of data mode)")
            self._end_raw(event.word)
        elif kind is RawOverflow:
            if self._raw is not None:
                self._raw.overflow(event.held)
        elif kind is ProtocolError:
            self._protocol_error(event.reason, event.header)

    def _protocol_error(self, reason: str, header: Optional[str] = None) -> None:
        """The modem broke the framing: drop what is half-read, fail the command in flight (its
        answer cannot be trusted), resynchronise, and let the dialect fail the socket concerned."""
        self.stats.protocol_errors += 1
        log.info("protocol error from modem: %s", reason)  # the socket concerned gets EPROTO
        self._drop_frames()
        self._needs_resync = True
        if self._active is not None:
            self._finish(self._active, error=ProtocolViolation(reason))
        for handler in self._error_handlers:
            handler(reason, header)
        self._pump()  # probes at once, whether or not anything waits: garbage (a module that restarted
        #             at another line rate) is noticed even on an idle line

    def _on_prompt(self, pending: Optional[_Pending]) -> None:
        if pending is None or pending.payload is None or pending.prompted:
            log.warning("unexpected data prompt from modem ignored")
            return
        pending.prompted = True
        self._arm(pending, pending.timeout)  # from here on, the command's own budget (no timer touched)
        self._write(pending.payload)
        self.stats.payload_writes += 1
        if _tracing():
            sent("", f"[{len(pending.payload)} payload bytes]")

    def _dispatch_urc(self, urc: Urc) -> None:
        self.stats.urcs += 1
        if urc.text in BOOT_NOTICES:
            self.boot_notices += 1
        for matches, handler in self._urc_handlers:
            if matches(urc.text):
                try:
                    handler(urc)
                except Exception:  # a bad URC must not take the reader down
                    log.exception("URC handler failed on %r", urc.text)
                return
        self.unhandled += 1
        self.last_unhandled = urc.text
        log.info("unhandled URC: %r", urc.text)

    def _write(self, data: bytes) -> None:
        if self._transport is None or self.gone is not None:
            raise ModemGone("serial port is closed")
        self.stats.bytes_written += len(data)
        self._transport.write(data)

    # --- commands ------------------------------------------------------------------------------
    async def command(
        self,
        text: CommandLine,
        *,
        timeout: float,
        response_prefixes: Iterable[str] = (),
        extra_finals: FrozenSet[str] = frozenset(),
        not_final: FrozenSet[str] = frozenset(),
        payload: Optional[bytes] = None,
        prompt_timeout: float = 5.0,
        prompt_line: Optional[str] = None,
        check: bool = True,
        guard: Optional[Guard] = None,
        owner: object = None,
        raw: Optional[RawLine] = None,
        raw_after: FrozenSet[str] = frozenset(),
        raw_after_prompt: bool = False,
        raw_words: Optional[RawWords] = None,
    ) -> Response:
        """Run one AT command and return its response.

        ``text`` comes from :mod:`atsock.wire.atcmd`, which checked every value in it. With ``payload``
        the command is expected to answer with the data prompt (or with ``prompt_line``, such as
        ``CONNECT``, where a module asks for data that way), after which the payload is written.
        With ``check`` a final other than ``OK`` raises :class:`CommandFailed`. ``guard`` is asked
        just before the command is written; if it returns an exception, the command fails with it
        and is never sent. ``owner`` is the holder a command belongs to (:meth:`hold`). With
        ``raw``, a final in ``raw_after`` (or, with ``raw_after_prompt``, the prompt, answered as
        final ``>``) hands the line over to raw data; ``raw_words`` are the module's words that may
        end it (:mod:`atsock.wire.rawstream`).
        """
        if (raw_after or raw_after_prompt) and (raw is None or raw_words is None):
            raise ValueError("a command that hands the line over to raw data needs a RawLine and its ending words")
        pending = self._enqueue(self._command(text, response_prefixes, extra_finals, not_final, raw_after,
                                              raw_after_prompt, raw_words, prompt_line),
                                payload, timeout, prompt_timeout, guard=guard, owner=owner, raw=raw)
        response = await pending.final
        if check and not response.final.ok:
            raise CommandFailed(text, response.final.text, response.final.error_code)
        return response

    def submit(self, text: CommandLine, *, on_done: Done, timeout: float, extra_finals: FrozenSet[str] = frozenset(),
               not_final: FrozenSet[str] = frozenset(), payload: Optional[bytes] = None,
               prompt_timeout: float = 5.0, guard: Optional[Guard] = None,
               response_prefixes: Tuple[str, ...] = ()) -> _Pending:
        """Queue a command whose verdict goes to ``on_done(response, error)``, called from the
        reader callback that parsed it (or with the error that stopped it). ``on_done`` may queue
        the next command at once: it goes out in the same wake-up. The returned handle's
        ``withdraw()`` keeps the command from going out if it has not yet."""
        key = (text, extra_finals, not_final, response_prefixes)
        command = self._chained.get(key)
        if command is None:  # a chain repeats its commands (the same send length, chunk after chunk)
            command = self._chained[key] = self._command(text, response_prefixes, extra_finals, not_final, frozenset(),
                                                         False, None)
        return self._enqueue(command, payload, timeout, prompt_timeout, guard=guard, on_done=on_done)

    @staticmethod
    def _command(text, response_prefixes, extra_finals, not_final, raw_after, raw_after_prompt,
                 raw_words: Optional[RawWords], prompt_line: Optional[str] = None) -> Command:
        if not isinstance(text, CommandLine):
            raise TypeError("command text must be built by atsock.wire.atcmd, not assembled by hand")
        return Command(text, tuple(response_prefixes), frozenset(extra_finals), frozenset(not_final),
                       frozenset(raw_after), raw_after_prompt, raw_words, prompt_line=prompt_line)

    async def sync(self, attempts: int, timeout: float = 1.0, leave_data_mode: bool = True) -> None:
        """Send ``AT`` until the modem answers ``OK``: at start-up, when it may still be booting.
        An answer other than ``OK`` means it is up but not ready (a BG95 says ``ERROR`` until
        ``APP RDY``): the next probe waits ``timeout`` too, and if no probe is answered ``OK``,
        :class:`CommandFailed` says what it answered instead of a time-out. ``leave_data_mode``
        False: no escape after an unanswered first probe (a caller that decides that itself)."""
        refused = None
        for attempt in range(attempts):
            notices = self.boot_notices
            pending = self._enqueue(Command(build("AT")), None, timeout, timeout, probe=True)
            try:
                response = await pending.final
            except CommandTimeout:
                if attempt == 0 and leave_data_mode:  # perhaps in a data mode an earlier process left it in
                    await leave_stale_data_mode(self, timeout, notices)
                continue
            if response.final.ok:
                return
            refused = response.final.text
            await asyncio.sleep(timeout)
        if refused is not None:
            raise CommandFailed("AT", refused)
        raise CommandTimeout("AT", attempts * timeout)

    def _enqueue(self, command: Command, payload: Optional[bytes], timeout: float, prompt_timeout: float,
                 probe: bool = False, guard: Optional[Guard] = None, on_done: Optional[Done] = None,
                 owner: object = None, raw: Optional[RawLine] = None) -> _Pending:
        if self.gone is not None:
            raise ModemGone(str(self.gone))
        future = None if on_done is not None else asyncio.get_running_loop().create_future()
        pending = _Pending(command, payload, timeout, prompt_timeout, future, on_done, probe, guard, owner, raw)
        self._queue.append(pending)
        self._gave_up = False
        if not self._routing:
            self._pump()
        return pending

    def _pump(self) -> None:
        """Start the next command if none is in flight and the line is not carrying raw data.
        After a lost final, resync probes go out first, at once, whether or not anything waits: a
        silent modem is noticed. While the engine is held, only its holder's commands go out."""
        if self._routing:
            return  # data_received pumps once the read's events are all routed
        while self._active is None and self.gone is None and self._raw is None:
            if self._needs_resync and not self._gave_up and not (self._queue and self._queue[0].probe):
                text, prefix = self.probe_command
                probe = Command(text, (prefix,) if prefix else ())
                # its verdict is the engine's own business (_finish): nobody waits for it
                self._queue.appendleft(_Pending(probe, None, RESYNC_TIMEOUT, RESYNC_TIMEOUT, None,
                                                on_done=_unwatched, probe=True))
            pending = self._next_allowed()
            if pending is None:
                return
            if pending.abandoned:
                continue  # its caller gave up before it went out
            refusal = pending.guard() if pending.guard is not None else None
            if refusal is not None:
                self._settle(pending, None, refusal)
                continue
            self._begin(pending)

    def _next_allowed(self) -> Optional[_Pending]:
        queue = self._queue
        if not queue:
            return None
        if self._holder is None or queue[0].probe or queue[0].owner is self._holder:
            return queue.popleft()
        for index, pending in enumerate(queue):
            if pending.owner is self._holder:
                del queue[index]
                return pending
        return None

    def _begin(self, pending: _Pending) -> None:
        self._active = pending
        pending.written_at = time.monotonic()
        pending.written = True
        self.stats.commands += 1
        self.stats.by_name[pending.command.name] += 1
        if _tracing():
            sent(pending.command.text)
        self._arm(pending, pending.prompt_timeout if pending.payload is not None else pending.timeout)
        try:
            self._write(self.channel.begin(pending.command))
        except ModemGone as exc:
            self._finish(pending, error=exc)

    def _arm(self, pending: _Pending, seconds: float) -> None:
        """Give the command in flight ``seconds`` from now. One watchdog timer serves every
        command: it is re-armed only when a deadline comes earlier than the time it is set for."""
        loop = asyncio.get_running_loop()
        pending.deadline = loop.time() + seconds
        pending.budget = seconds
        if self._watchdog is None or pending.deadline < self._watch_at:
            if self._watchdog is not None:
                self._watchdog.cancel()
            self._watch_at = pending.deadline
            self._watchdog = loop.call_at(pending.deadline, self._watch)

    def _watch(self) -> None:
        self._watchdog = None
        pending = self._active
        if pending is None:
            return
        loop = asyncio.get_running_loop()
        if loop.time() < pending.deadline:
            self._watch_at = pending.deadline
            self._watchdog = loop.call_at(pending.deadline, self._watch)
            return
        self._expire(pending, pending.budget)

    def _expire(self, pending: _Pending, seconds: float) -> None:
        if self._active is not pending:
            return
        if pending.lines:  # what came while it waited was not its answer after all (boot text, noise)
            self.unhandled += len(pending.lines)
            self.last_unhandled = pending.lines[-1].text
        self._drop_frames()
        if pending.probe:
            self._failed_probes += 1
        else:
            self._needs_resync = True
            log.info("no final result for %r within %g s: resynchronising", pending.command.text, seconds)
        self._finish(pending, error=CommandTimeout(pending.command.text, seconds))

    def _finish(self, pending: _Pending, response: Optional[Response] = None,
                error: Optional[BaseException] = None) -> None:
        self._active = None
        if response is not None:
            self.stats.exchange_times.observe(time.monotonic() - pending.written_at)
        if pending.probe and response is not None:
            if response.final.ok and self._identifies(pending, response):
                self._needs_resync = False
                self._failed_probes = 0
            elif self._needs_resync:
                self._failed_probes += 1  # answered, but not by the probe: still out of step
        if self._needs_resync and self._failed_probes >= RESYNC_ATTEMPTS:
            self._give_up_queue()
        if response is not None and error is None and pending.raw is not None and self.channel.raw:
            self._raw = pending.raw  # the answer handed the line over: what follows is data
            self._raw.active = True
        self._settle(pending, response, error)
        if not self._routing:  # (data_received pumps once the read's events are all routed)
            self._pump()

    @staticmethod
    def _settle(pending: _Pending, response: Optional[Response], error: Optional[BaseException]) -> None:
        if pending.on_done is not None:
            try:
                pending.on_done(response, error)
            except Exception:  # the reader must go on whatever a callback does
                log.exception("completion of %r failed", pending.command.text)
        elif not pending.final.done():
            if error is not None:
                pending.final.set_exception(error)
            else:
                pending.final.set_result(response)

    def _identifies(self, pending: _Pending, response: Response) -> bool:
        prefixes = pending.command.response_prefixes
        return not prefixes or response.first(prefixes[0]) is not None

    def _give_up_queue(self) -> None:
        """The modem stays silent: what waits behind the probes fails instead of waiting forever."""
        self._failed_probes = 0
        self._gave_up = True
        waiting, self._queue = list(self._queue), deque()
        for pending in waiting:
            if not pending.abandoned:
                self._settle(pending, None, CommandTimeout(pending.command.text, RESYNC_ATTEMPTS * RESYNC_TIMEOUT))
        for handler in self._unresponsive_handlers:
            handler()

    def mark_out_of_step(self) -> None:
        """The module's state is unknown (it did not answer as its mode promised): probes first."""
        self._drop_frames()
        self._needs_resync = True

    async def writable(self) -> None:
        """Returns once the transport takes more (it asked to pause above its high-water mark)."""
        while self._writable is not None and not self._writable.is_set() and self.gone is None:
            await self._writable.wait()
        if self.gone is not None:
            raise ModemGone(str(self.gone))

    @property
    def transport(self) -> Optional[asyncio.Transport]:
        return self._transport

    @property
    def unsent(self) -> int:
        """Bytes the transport holds that the port has not taken yet."""
        transport = self._transport
        return transport.get_write_buffer_size() if transport is not None else 0

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()


def _unwatched(response: Optional[Response], error: Optional[BaseException]) -> None:
    """The completion of a command whose outcome only the engine itself looks at."""
