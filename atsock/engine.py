"""The engine: one serial port, one reader, one command in flight, URC dispatch, the links.

It is an ``asyncio.Protocol`` on the loop of :mod:`atsock.loop_thread`. Bytes from the port go
through the sans-I/O :class:`~atsock.channel.ATChannel`; the events come back here and are routed:
intermediate lines and finals to the command in flight, prompts to the payload writer, URCs to the
handlers the dialect registered by prefix.

Commands run one at a time in FIFO order. A command runs in a task of its own and callers await it
shielded, so a caller that gives up (timeout, cancel) never leaves a command half-written — the
channel stays in step with the modem. A command whose final result never comes marks the channel
for resynchronisation, done before the next command.
"""
import asyncio
import logging
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable, Dict, FrozenSet, Iterable, List, Optional, Tuple

from .channel import ATChannel, Command, Final, Intermediate, Prompt, ProtocolError, Urc
from .errors import CommandFailed, CommandTimeout, ModemGone
from .link import Link

wire = logging.getLogger("atsock.at")
log = logging.getLogger("atsock.engine")

UrcHandler = Callable[[Urc], None]
UrcMatcher = Callable[[str], bool]


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


@dataclass
class _Pending:
    command: Command
    payload: Optional[bytes]
    final: asyncio.Future
    prompted: asyncio.Future
    lines: List[Intermediate] = field(default_factory=list)


class Engine(asyncio.Protocol):
    def __init__(self, channel: ATChannel):
        self.channel = channel
        self.links: Dict[int, Link] = {}
        self.stats = EngineStats()
        self._urc_handlers: List[Tuple[UrcMatcher, UrcHandler]] = []
        self._error_handlers: List[Callable[[str], None]] = []
        self._gone_handlers: List[Callable[[], None]] = []
        self._transport: Optional[asyncio.Transport] = None
        self._pending: Optional[_Pending] = None
        self._lock: Optional[asyncio.Lock] = None
        self._needs_resync = False
        self.gone: Optional[BaseException] = None

    # --- registration (the dialect's side) ------------------------------------------------------
    def on_urc(self, prefix: str, handler: UrcHandler) -> None:
        self.channel.add_urc_prefix(prefix)
        self._urc_handlers.append((lambda text: text.startswith(prefix), handler))

    def on_urc_pattern(self, pattern: "re.Pattern[str]", handler: UrcHandler) -> None:
        """For URCs without a fixed prefix, such as ESP's ``0,CONNECT``."""
        self.channel.add_urc_pattern(pattern)
        self._urc_handlers.append((lambda text: pattern.match(text) is not None, handler))

    def on_protocol_error(self, handler: Callable[[str], None]) -> None:
        self._error_handlers.append(handler)

    def on_gone(self, handler: Callable[[], None]) -> None:
        self._gone_handlers.append(handler)

    # --- asyncio.Protocol -----------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.stats.bytes_read += len(data)
        for event in self.channel.receive(data):
            self._route(event)

    def connection_lost(self, exc: Optional[Exception]) -> None:
        self.gone = exc or ModemGone("serial port closed")
        log.log(logging.WARNING if exc else logging.DEBUG, "serial port closed: %s", exc)
        pending = self._pending
        if pending is not None and not pending.final.done():
            pending.final.set_exception(ModemGone(str(self.gone)))
        for handler in self._gone_handlers:
            handler()

    def _route(self, event) -> None:
        pending = self._pending
        if isinstance(event, Intermediate):
            if _tracing():
                wire.debug("<- %s%s", event.text, f" [{len(event.data)} bytes]" if event.data is not None else "")
            if pending is not None:
                pending.lines.append(event)
        elif isinstance(event, Final):
            if _tracing():
                wire.debug("<- %s", event.text)
            if pending is not None and not pending.final.done():
                pending.final.set_result(event)
        elif isinstance(event, Urc):
            if _tracing():
                wire.debug("<- %s%s (urc)", event.text, f" [{len(event.data)} bytes]" if event.data is not None else "")
            self._dispatch_urc(event)
        elif isinstance(event, Prompt):
            self._on_prompt(pending)
        elif isinstance(event, ProtocolError):
            self.stats.protocol_errors += 1
            log.warning("protocol error from modem: %s", event.reason)
            for handler in self._error_handlers:
                handler(event.reason)

    def _on_prompt(self, pending: Optional[_Pending]) -> None:
        if pending is None or pending.payload is None or pending.prompted.done():
            log.warning("unexpected data prompt from modem ignored")
            return
        pending.prompted.set_result(None)
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
        text: str,
        *,
        timeout: float,
        response_prefixes: Iterable[str] = (),
        extra_finals: FrozenSet[str] = frozenset(),
        not_final: FrozenSet[str] = frozenset(),
        payload: Optional[bytes] = None,
        prompt_timeout: float = 5.0,
        check: bool = True,
    ) -> Response:
        """Run one AT command and return its response.

        With ``payload`` the command is expected to answer with the data prompt, after which the
        payload is written. With ``check`` a final other than ``OK`` raises :class:`CommandFailed`.
        """
        command = Command(text, tuple(response_prefixes), frozenset(extra_finals), frozenset(not_final))
        if self._lock is None:
            self._lock = asyncio.Lock()
        task = asyncio.ensure_future(self._run(command, payload, timeout, prompt_timeout))
        task.add_done_callback(_consume_result)  # a caller that gave up must not leave it unretrieved
        response = await asyncio.shield(task)
        if check and not response.final.ok:
            raise CommandFailed(text, response.final.text, response.final.error_code)
        return response

    async def _run(self, command: Command, payload: Optional[bytes], timeout: float,
                   prompt_timeout: float) -> Response:
        async with self._lock:
            if self.gone is not None:
                raise ModemGone(str(self.gone))
            if self._needs_resync:
                await self._resync()
            return await self._exchange(command, payload, timeout, prompt_timeout)

    async def _exchange(self, command: Command, payload: Optional[bytes], timeout: float,
                        prompt_timeout: float) -> Response:
        loop = asyncio.get_running_loop()
        pending = _Pending(command, payload, loop.create_future(), loop.create_future())
        self._pending = pending
        self.stats.commands += 1
        self.stats.by_name[command.name] += 1
        if _tracing():
            wire.debug("-> %s", command.text)
        try:
            self._write(self.channel.begin(command))
            if payload is not None:
                await asyncio.wait_for(asyncio.wait({pending.prompted, pending.final},
                                                    return_when=asyncio.FIRST_COMPLETED), prompt_timeout)
                if not pending.prompted.done() and not pending.final.done():
                    raise asyncio.TimeoutError
            final = await asyncio.wait_for(asyncio.shield(pending.final), timeout)
        except asyncio.TimeoutError:
            self.channel.abandon()
            self._needs_resync = True
            raise CommandTimeout(command.text, timeout) from None
        finally:
            self._pending = None
        return Response(final, pending.lines)

    async def sync(self, attempts: int, timeout: float = 1.0) -> None:
        """Send ``AT`` until the modem answers ``OK``: at start-up and after a lost final."""
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            await self._sync(attempts, timeout)

    async def _sync(self, attempts: int, timeout: float) -> None:
        for _ in range(attempts):
            if self.gone is not None:
                raise ModemGone(str(self.gone))
            try:
                response = await self._exchange(Command("AT"), None, timeout, timeout)
            except CommandTimeout:
                continue
            if response.final.ok:
                self._needs_resync = False
                return
        raise CommandTimeout("AT", attempts * timeout)

    async def _resync(self) -> None:
        log.warning("resynchronising with the modem")
        await self._sync(3, 1.0)

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()


def _tracing() -> bool:
    return wire.isEnabledFor(logging.DEBUG)  # cached by logging; the trace can be switched on any time


def _consume_result(task: asyncio.Task) -> None:
    if not task.cancelled():
        task.exception()
