"""The engine: one serial port, one reader, a queue of commands, URC dispatch.

It is an ``asyncio.Protocol`` on the loop of :mod:`atsock.loop_thread`. Bytes from the port go
through the sans-I/O :class:`~atsock.channel.ATChannel`; the events come back here and are routed:
intermediate lines and finals to the command in flight, prompts to the payload writer, URCs to the
handlers the dialect registered by prefix or pattern.

Commands wait in a FIFO queue and go out one at a time. The next one is written straight from the
reader callback that saw the previous one's final result, and a timeout is a timer, not a task:
an AT exchange costs no task switches of its own. A caller that stops waiting (its own timeout,
a cancel) does not stop the exchange: a command that was written is seen through to its final
result, a prompt still gets its payload, so the channel stays in step with the modem. A command
whose final result never comes marks the channel for resynchronisation: ``AT`` probes go out
before anything else until one is answered ``OK``.
"""
import asyncio
import logging
import re
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Callable, Deque, FrozenSet, Iterable, List, Optional, Tuple

from .atcmd import CommandLine, build
from .channel import ATChannel, Command, Final, Intermediate, Prompt, ProtocolError, Urc
from .errors import CommandFailed, CommandTimeout, ModemGone, ProtocolViolation

wire = logging.getLogger("atsock.at")
log = logging.getLogger("atsock.engine")

UrcHandler = Callable[[Urc], None]
UrcMatcher = Callable[[str], bool]
Guard = Callable[[], Optional[BaseException]]


@dataclass
class Response:
    final: Final
    lines: List[Intermediate]

    def first(self, prefix: str) -> Optional[Intermediate]:
        for line in self.lines:
            if line.text.startswith(prefix):
                return line
        return None

    def values(self, prefix: str) -> List[str]:
        """The text after ``prefix`` of every line that has it, stripped."""
        return [line.text[len(prefix):].strip() for line in self.lines if line.text.startswith(prefix)]


@dataclass
class EngineStats:
    """What crossed the wire; read by the demo and the benchmarks."""

    commands: int = 0
    payload_writes: int = 0
    bytes_written: int = 0
    bytes_read: int = 0
    urcs: int = 0
    protocol_errors: int = 0
    by_name: Counter = field(default_factory=Counter)

    def snapshot(self) -> dict:
        data = {k: v for k, v in self.__dict__.items() if k != "by_name"}
        data["by_name"] = dict(self.by_name)
        return data


RESYNC_ATTEMPTS = 3
RESYNC_TIMEOUT = 1.0
FRAME_IDLE = 3.0  # a line or payload that stops arriving half-way for this long is truncated


@dataclass
class _Pending:
    command: Command
    payload: Optional[bytes]
    timeout: float
    prompt_timeout: float
    final: asyncio.Future
    probe: bool = False          # an AT probe of a resync: its verdict is the engine's own business
    guard: Optional[Guard] = None  # checked when the command's turn comes: an exception stops it unsent
    lines: List[Intermediate] = field(default_factory=list)
    prompted: bool = False
    timer: Optional[asyncio.TimerHandle] = None


class Engine(asyncio.Protocol):
    def __init__(self, channel: ATChannel):
        self.channel = channel
        self.stats = EngineStats()
        self._urc_handlers: List[Tuple[UrcMatcher, UrcHandler]] = []
        self._error_handlers: List[Callable[[str], None]] = []
        self._gone_handlers: List[Callable[[], None]] = []
        self._unresponsive_handlers: List[Callable[[], None]] = []
        self._transport: Optional[asyncio.Transport] = None
        self._queue: Deque[_Pending] = deque()
        self._active: Optional[_Pending] = None
        self._needs_resync = False
        self._failed_probes = 0
        self._gave_up = False  # probes stay unanswered: no more until someone needs the modem
        self._idle_timer: Optional[asyncio.TimerHandle] = None
        #: resync probe: a command whose answer carries a line only it produces, so that a stray
        #: OK left over from garbage cannot pass for the probe's (dialects set their own)
        self.probe_command: Tuple[CommandLine, Optional[str]] = (build("AT"), None)
        self.gone: Optional[BaseException] = None

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
        self.channel.abandon()

    def abandon_in_flight(self, error: BaseException) -> None:
        """The module restarted: the command in flight will never be answered. It fails with
        ``error`` now (instead of at its time-out, up to minutes for a send), and the channel
        forgets whatever was half-read; commands queued behind it go out to the new module."""
        pending = self._active
        if pending is None:
            return
        self.channel.abandon()
        self._finish(pending, error=error)

    # --- asyncio.Protocol -----------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.stats.bytes_read += len(data)
        for event in self.channel.receive(data):
            self._route(event)
        if self._idle_timer is not None:
            self._idle_timer.cancel()
            self._idle_timer = None
        if self.channel.partial:
            self._idle_timer = asyncio.get_running_loop().call_later(FRAME_IDLE, self._frame_stalled)

    def _frame_stalled(self) -> None:
        self._idle_timer = None
        if self.channel.partial:
            self._protocol_error(f"frame stopped arriving half-way ({self.channel.partial} bytes held)")

    def connection_lost(self, exc: Optional[Exception]) -> None:
        if self.gone is not None:
            return  # already handled (a reopen attempt that failed)
        self.gone = exc or ModemGone("serial port closed")
        log.log(logging.WARNING if exc else logging.DEBUG, "serial port closed: %s", exc)
        waiting = ([self._active] if self._active else []) + list(self._queue)
        self._active = None
        self._queue.clear()
        for pending in waiting:
            if pending.timer is not None:
                pending.timer.cancel()
            if not pending.final.done():
                pending.final.set_exception(ModemGone(str(self.gone)))
        for handler in self._gone_handlers:
            handler()

    def _route(self, event) -> None:
        pending = self._active
        if isinstance(event, Intermediate):
            if _tracing():
                wire.debug("<- %s%s", event.text, f" [{len(event.data)} bytes]" if event.data is not None else "")
            if pending is not None:
                pending.lines.append(event)
        elif isinstance(event, Final):
            if _tracing():
                wire.debug("<- %s", event.text)
            if pending is not None:
                self._finish(pending, Response(event, pending.lines))
        elif isinstance(event, Urc):
            if _tracing():
                wire.debug("<- %s%s (urc)", event.text, f" [{len(event.data)} bytes]" if event.data is not None else "")
            self._dispatch_urc(event)
        elif isinstance(event, Prompt):
            self._on_prompt(pending)
        elif isinstance(event, ProtocolError):
            self._protocol_error(event.reason, event.header)

    def _protocol_error(self, reason: str, header: Optional[str] = None) -> None:
        """The modem broke the framing: drop what is half-read, fail the command in flight (its
        answer cannot be trusted), resynchronise, and let the dialect fail the socket concerned."""
        self.stats.protocol_errors += 1
        log.warning("protocol error from modem: %s", reason)
        self.channel.abandon()
        self._needs_resync = True
        if self._active is not None:
            self._finish(self._active, error=ProtocolViolation(reason))
        for handler in self._error_handlers:
            handler(reason, header)

    def _on_prompt(self, pending: Optional[_Pending]) -> None:
        if pending is None or pending.payload is None or pending.prompted:
            log.warning("unexpected data prompt from modem ignored")
            return
        pending.prompted = True
        self._arm(pending, pending.timeout)  # from here on, the command's own budget
        self._write(pending.payload)
        self.stats.payload_writes += 1
        if _tracing():
            wire.debug("-> [%d payload bytes]", len(pending.payload))

    def _dispatch_urc(self, urc: Urc) -> None:
        self.stats.urcs += 1
        for matches, handler in self._urc_handlers:
            if matches(urc.text):
                try:
                    handler(urc)
                except Exception:  # a bad URC must not take the reader down
                    log.exception("URC handler failed on %r", urc.text)
                return
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
    ) -> Response:
        """Run one AT command and return its response.

        ``text`` comes from :mod:`atsock.atcmd`, which checked every value in it. With ``payload``
        the command is expected to answer with the data prompt (or with ``prompt_line``, such as
        ``CONNECT``, where a module asks for data that way), after which the payload is written.
        With ``check`` a final other than ``OK`` raises :class:`CommandFailed`. ``guard`` is asked
        just before the command is written; if it returns an exception, the command fails with it
        and is never sent.
        """
        if not isinstance(text, CommandLine):
            raise TypeError("command text must be built by atsock.atcmd, not assembled by hand")
        command = Command(text, tuple(response_prefixes), frozenset(extra_finals), frozenset(not_final), prompt_line)
        pending = self._enqueue(command, payload, timeout, prompt_timeout, guard=guard)
        response = await pending.final
        if check and not response.final.ok:
            raise CommandFailed(text, response.final.text, response.final.error_code)
        return response

    async def sync(self, attempts: int, timeout: float = 1.0) -> None:
        """Send ``AT`` until the modem answers ``OK``: at start-up, when it may still be booting."""
        for _ in range(attempts):
            pending = self._enqueue(Command(build("AT")), None, timeout, timeout, probe=True)
            try:
                response = await pending.final
            except CommandTimeout:
                continue
            if response.final.ok:
                return
        raise CommandTimeout("AT", attempts * timeout)

    def _enqueue(self, command: Command, payload: Optional[bytes], timeout: float, prompt_timeout: float,
                 probe: bool = False, guard: Optional[Guard] = None) -> _Pending:
        if self.gone is not None:
            raise ModemGone(str(self.gone))
        future = asyncio.get_running_loop().create_future()
        pending = _Pending(command, payload, timeout, prompt_timeout, future, probe, guard)
        self._queue.append(pending)
        self._gave_up = False
        self._pump()
        return pending

    def _pump(self) -> None:
        """Start the next command if none is in flight. After a lost final, resync probes go out
        first, at once, whether or not anything waits: a silent modem is noticed."""
        while self._active is None and self.gone is None:
            if self._needs_resync and not self._gave_up and not (self._queue and self._queue[0].probe):
                future = asyncio.get_running_loop().create_future()
                text, prefix = self.probe_command
                probe = Command(text, (prefix,) if prefix else ())
                self._queue.appendleft(_Pending(probe, None, RESYNC_TIMEOUT, RESYNC_TIMEOUT, future, True))
            if not self._queue:
                return
            pending = self._queue.popleft()
            if pending.final.done():
                continue  # its caller gave up before it went out
            refusal = pending.guard() if pending.guard is not None else None
            if refusal is not None:
                pending.final.set_exception(refusal)
                continue
            self._begin(pending)

    def _begin(self, pending: _Pending) -> None:
        self._active = pending
        self.stats.commands += 1
        self.stats.by_name[pending.command.name] += 1
        if _tracing():
            wire.debug("-> %s", pending.command.text)
        self._arm(pending, pending.prompt_timeout if pending.payload is not None else pending.timeout)
        try:
            self._write(self.channel.begin(pending.command))
        except ModemGone as exc:
            self._finish(pending, error=exc)

    def _arm(self, pending: _Pending, seconds: float) -> None:
        if pending.timer is not None:
            pending.timer.cancel()
        pending.timer = asyncio.get_running_loop().call_later(seconds, self._expire, pending, seconds)

    def _expire(self, pending: _Pending, seconds: float) -> None:
        if self._active is not pending:
            return
        self.channel.abandon()
        if pending.probe:
            self._failed_probes += 1
        else:
            self._needs_resync = True
            log.warning("no final result for %r within %g s: resynchronising", pending.command.text, seconds)
        self._finish(pending, error=CommandTimeout(pending.command.text, seconds))

    def _finish(self, pending: _Pending, response: Optional[Response] = None,
                error: Optional[BaseException] = None) -> None:
        if pending.timer is not None:
            pending.timer.cancel()
        self._active = None
        if pending.probe and response is not None:
            if response.final.ok and self._identifies(pending, response):
                self._needs_resync = False
                self._failed_probes = 0
            elif self._needs_resync:
                self._failed_probes += 1  # answered, but not by the probe: still out of step
        if self._needs_resync and self._failed_probes >= RESYNC_ATTEMPTS:
            self._give_up_queue()
        if not pending.final.done():
            if error is not None:
                pending.final.set_exception(error)
            else:
                pending.final.set_result(response)
        self._pump()

    def _identifies(self, pending: _Pending, response: Response) -> bool:
        prefixes = pending.command.response_prefixes
        return not prefixes or response.first(prefixes[0]) is not None

    def _give_up_queue(self) -> None:
        """The modem stays silent: what waits behind the probes fails instead of waiting forever."""
        self._failed_probes = 0
        self._gave_up = True
        waiting, self._queue = list(self._queue), deque()
        for pending in waiting:
            if not pending.final.done():
                pending.final.set_exception(CommandTimeout(pending.command.text, RESYNC_ATTEMPTS * RESYNC_TIMEOUT))
        for handler in self._unresponsive_handlers:
            handler()

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()


def _tracing() -> bool:
    return wire.isEnabledFor(logging.DEBUG)  # cached by logging; the trace can be switched on any time
