"""The serial line's rate and flow control at both ends: finding the module at whatever rate it is,
switching it and the host's port to the rate asked for, proving it, falling back, undoing it.

A module boots at its saved rate (115200 from the factory: Quectel's ``AT+IPR``, ESP-AT's
``AT+UART_DEF``) and keeps a rate an earlier program set until it restarts. A host at another rate
reads garbage, and the module hears the host's commands as garbage too. So :meth:`Line.find` probes
``AT`` at the port's rate first (the one asked for when it opens, the one in use later), then at
the rate asked for, the rate last found, and the usual ones. :meth:`Line.settle` then switches
(``AT+IPR`` / ``AT+UART_CUR``: the OK comes at the old rate, the module switches after it),
switches the host's port (dropping what it received at the old rate), and proves the new rate
with an ``AT`` round trip before it saves anything (``AT&W`` / ``AT+UART_DEF``, only when asked).
A rate the module refuses leaves the line where it was, with a warning; one it takes and then does not
answer at is undone blindly (the same command with the old rate, sent at the new one) and the
module looked for again. RTS/CTS flow control follows the same steps, and a module or port that
cannot do it is a clear error. :meth:`Line.restore` leaves the module as it was found when the
modem closes, unless the rate was saved.

The dialect supplies the AT text (:class:`LineCommands`); the transport sets the host's side
(``set_baudrate``, ``set_flow_control``: :mod:`atsock.wire.transport`).
"""
import asyncio
import contextlib
import errno
import itertools
import logging
from typing import Callable, List, Optional

from ..errors import CommandFailed, CommandTimeout, ModemError, docs_link
from .atcmd import CommandLine
from .escape import leave_stale_data_mode

log = logging.getLogger("atsock.linerate")

#: where modules are found when not at the rate asked for: the factory rate first, then the rates
#: programs commonly set (an earlier run of this one, TinyGSM's, Particle's 921600...)
USUAL_RATES = (115200, 921600, 460800, 230400, 57600, 9600)
FLOW_CONTROLS = (None, "none", "rtscts")
STANDARD_RATES = (9600, 19200, 38400, 57600, 115200, 230400, 460800, 921600, 1000000, 1500000, 2000000, 3000000,
                  4000000)
PROBE = 0.3           # seconds an AT probe waits at each rate (a module answers within milliseconds)
MIN_ROUNDS = 2        # rounds of the rates a search makes whatever its budget (a module may miss one probe)
PROOF_ATTEMPTS = 3    # AT probes at a new rate before it counts as not answering
REVERT_ATTEMPTS = 3   # blind revert commands sent at a rate that does not answer
T_SETTING = 2.0       # seconds for the module's answer to a line setting


def standard(rate: int) -> int:
    """The standard rate within 1 % of ``rate`` (a UART reports what its divider makes: 115273 for
    115200), or ``rate`` itself."""
    for candidate in STANDARD_RATES:
        if abs(rate - candidate) <= candidate // 100:
            return candidate
    return rate


class LineCommands:
    """A dialect's AT text for its UART."""

    carries_flow = False  # True: the rate command sets flow control too (ESP-AT's AT+UART_CUR)
    usb_vendor: Optional[int] = None  # the module's own USB interfaces (no line rate: nothing to switch)

    def rate(self, baudrate: int, rtscts: bool) -> CommandLine:
        """The command that moves the module to ``baudrate`` until it restarts (and, where
        :attr:`carries_flow`, turns RTS/CTS on or off)."""
        raise NotImplementedError

    def flow(self, rtscts: bool) -> Optional[CommandLine]:
        """The command that switches RTS/CTS on or off, or None where :meth:`rate` carries it."""
        return None

    def save(self, baudrate: int, rtscts: bool) -> CommandLine:
        """The command that keeps these settings, already in force, across a restart."""
        raise NotImplementedError


class Line:
    """One port's line, as both ends have it. ``baudrate`` is the host's rate now (and, once
    :meth:`find` or :meth:`settle` proved it, the module's); ``rtscts`` whether both ends run
    RTS/CTS. ``on_change(baudrate)`` is told of every rate change. ``commands`` None: the line is
    only found, never switched (a session that does not bring the module up)."""

    def __init__(self, engine, commands: Optional[LineCommands], baudrate: int, flow_control: Optional[str] = None,
                 save: bool = False, current: Optional[int] = None):
        if isinstance(baudrate, bool) or not isinstance(baudrate, int) or baudrate <= 0:
            raise ValueError(f"baudrate must be a positive int, not {baudrate!r}")
        if flow_control not in FLOW_CONTROLS:
            raise ValueError(f"flow_control must be None or \"rtscts\", not {flow_control!r}")
        if not isinstance(save, bool):
            raise ValueError("save_baudrate must be True or False")
        self.engine = engine
        self.commands = commands
        self.wanted = baudrate
        self.wants_rtscts = flow_control == "rtscts"
        self.save = save
        self.baudrate = current or baudrate  # the host's port opens at this rate
        self.rtscts = False
        self.found_at: Optional[int] = None  # the rate the module answered at when last found
        self.switch_seconds: Optional[float] = None  # how long the last switch took, from found to proved
        self.on_change: Callable[[int], None] = lambda baudrate: None
        self._fixed = False  # the port's rate cannot be set (a raw TCP serial server)

    @property
    def flow_control(self) -> Optional[str]:
        return "rtscts" if self.rtscts else None

    # --- finding the module ---------------------------------------------------------------------
    def candidates(self) -> List[int]:
        rates = [self.baudrate, self.wanted] + ([self.found_at] if self.found_at else []) + list(USUAL_RATES)
        return list(dict.fromkeys(rates))

    async def find(self, budget: float) -> None:
        async with self._holding():
            await self._find(budget)

    async def _find(self, budget: float) -> None:
        """``AT`` at each candidate rate in turn until the module answers, for up to ``budget``
        seconds and two rounds at least (each probe waits PROBE in the first, twice that after); a
        module still starting (deaf to the first probes) is asked again round after round. Silence
        at the port's own rate (no byte back, where one at another rate echoes garbage) is first
        taken for a data mode an earlier process left the module in, and escaped, before anything
        more reaches the far end; the second round escapes there in any case. An answer other than
        ``OK`` (a module up but not ready) fixes the rate, and :meth:`Engine.sync` goes on there
        (raising CommandFailed if it never says OK); no answer at any rate raises CommandTimeout."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + budget
        engine = self.engine
        engine.take_over_resync()
        order = self.candidates()
        escaped = False
        for round_ in itertools.count(1):
            # the port's rate twice at first: a module still starting may miss one probe
            rates = (order[:1] + order if round_ == 1 else order) if self._settable() else [self.baudrate]
            # later rounds wait longer: an answer later than the probe's wait is dropped with the
            # rate change after it, so a module (or a loaded host) that slow is found only so
            wait = PROBE if round_ == 1 else 2 * PROBE
            for rate in rates:
                if not await self.listen_at(rate):
                    continue
                heard, notices = engine.stats.bytes_read, engine.boot_notices
                try:
                    await engine.sync(attempts=1, timeout=wait, leave_data_mode=False)
                except CommandTimeout:
                    if rate == order[0] and not escaped and (round_ > 1 or engine.stats.bytes_read == heard):
                        escaped = True  # silence at the port's rate: perhaps a data mode an earlier process left
                        await leave_stale_data_mode(engine, PROBE, notices)
                    continue
                except CommandFailed:  # it answers here, but is not ready yet
                    self._found(rate)
                    left = max(PROBE, deadline - loop.time())
                    await engine.sync(attempts=max(1, int(left / PROBE)), timeout=PROBE, leave_data_mode=False)
                    return
                self._found(rate)
                return
            if loop.time() >= deadline and round_ >= MIN_ROUNDS:
                tried = "" if len(rates) == 1 else f" (at {', '.join(map(str, order))} baud)"
                raise CommandTimeout("AT" + tried, budget)

    def _found(self, rate: int) -> None:
        if rate != self.wanted:
            log.info("the module answers at %d baud", rate)
        self.found_at = rate

    def _settable(self) -> bool:
        transport = self.engine.transport
        return not self._fixed and hasattr(transport, "set_baudrate") and getattr(transport, "line_settable", True)

    async def listen_at(self, rate: int) -> bool:
        """The host's port to ``rate`` (RTS/CTS off: a module not yet set up may not drive CTS);
        what was half-read at the old rate is dropped. False where the port's rate cannot be set
        (a raw TCP serial server: its rate is its own) and is not ``rate``. Between :meth:`find` or
        :meth:`settle`'s commands only (they hold the engine): a command in flight would lose its
        answer."""
        if self.rtscts:
            await self._set_host_flow(False)
        if rate == self.baudrate:
            return True
        if self._fixed:
            return False
        try:
            await self.engine.transport.set_baudrate(rate)
        except OSError as exc:
            if exc.errno != errno.EOPNOTSUPP:
                raise
            log.info("%s", exc)
            self._fixed = True
            return False
        self.baudrate = rate
        self.on_change(rate)
        self.engine.channel.abandon()
        return True

    # --- switching ------------------------------------------------------------------------------
    async def settle(self) -> None:
        """Both ends to the rate and flow control asked for, each step proved, then saved if asked."""
        if self.commands is None:
            return
        async with self._holding():
            await self._settle()

    async def _settle(self) -> None:
        began = asyncio.get_running_loop().time()
        changed = False
        if self._on_module_usb():
            log.info("the port is the module's own USB interface: there is no line rate to switch")
            return
        if self.baudrate != self.wanted:
            if self._settable():
                changed = await self._switch_rate(self.wanted, self.wants_rtscts and self.commands.carries_flow)
            else:
                log.warning("the port's line rate cannot be changed: staying at %d baud", self.baudrate)
        if self.wants_rtscts and not self.rtscts:
            await self._switch_flow()
            changed = True
        if self.save:
            await self._save()
        if changed:
            self.switch_seconds = asyncio.get_running_loop().time() - began
            log.info("line at %d baud%s (%.2f s to switch)", self.baudrate, ", RTS/CTS" if self.rtscts else "",
                     self.switch_seconds)

    def _on_module_usb(self) -> bool:
        """A USB interface of the module itself has no line rate (AT+IPR would change its UART)."""
        vendor = self.commands.usb_vendor
        probe = getattr(self.engine.transport, "usb_vendor", None)
        return vendor is not None and probe is not None and probe() == vendor

    @contextlib.asynccontextmanager
    async def _holding(self):
        """Only the line's commands and probes go out meanwhile (recovery runs while callers may
        queue socket commands): the rate never changes under another command's answer."""
        if self.engine.held_by is not None:  # (inside a search that holds it already)
            yield
            return
        self.engine.hold(self)
        try:
            yield
        finally:
            self.engine.release(self)

    async def _command(self, command: CommandLine, timeout: float = T_SETTING):
        owner = self if self.engine.held_by is self else None
        return await self.engine.command(command, timeout=timeout, check=False, owner=owner)

    async def _switch_rate(self, rate: int, rtscts: bool) -> bool:
        """True once both ends are at ``rate`` and an AT round trip went through."""
        old = self.baudrate
        command = self.commands.rate(rate, rtscts)
        response = await self._command(command)
        if not response.final.ok:
            if rtscts:  # the rate or the flow control: the rate alone first
                return await self._switch_rate(rate, False)
            log.warning("the module refuses %s (%s): the line stays at %d baud", command, response.final.text, old)
            return False
        await self.listen_at(rate)
        if rtscts:
            await self._host_flow()
        if await self._proved():
            return True
        log.warning("the module took %s but does not answer at %d baud: going back to %d baud", command, rate, old)
        await self._revert(old, command)
        return False

    async def _revert(self, old: int, command: CommandLine) -> None:
        """The new rate does not answer: the old one is asked for blindly at the new rate (a line
        that garbles only the module's output still carries it) until the module answers there;
        failing that, it is looked for at every rate."""
        new, back = self.baudrate, self.commands.rate(old, False)
        for _ in range(REVERT_ATTEMPTS):
            await self.listen_at(new)
            try:
                await self._command(back, PROBE)
            except CommandTimeout:  # the answer came garbled, if at all
                self.engine.take_over_resync()
            await self.listen_at(old)
            if await self._proved(attempts=1):
                log.warning("the module is back at %d baud (asked for %d)", old, self.wanted)
                return
        try:
            await self.find(len(self.candidates()) * PROBE * 2)
        except (CommandTimeout, CommandFailed):
            raise ModemError(errno.ETIMEDOUT, f"the module took {command} and then answered neither at {new} "
                                              f"nor back at {old} baud",
                             advice="the wiring does not carry that rate (long wires, slow level shifters): "
                                    "restart the module (it comes back at its saved rate) and open it with a "
                                    "lower {setting}", setting="baudrate") from None
        log.warning("the module is at %d baud (asked for %d)", self.baudrate, self.wanted)

    async def _switch_flow(self) -> None:
        command = self.commands.flow(True) or self.commands.rate(self.baudrate, True)
        response = await self._command(command)
        if not response.final.ok:
            raise _final(errno.EOPNOTSUPP, f"the module refuses RTS/CTS flow control ({command}: "
                                           f"{response.final.text})",
                         "open it without {setting}: its UART has no RTS/CTS (or this firmware cannot run them)")
        await self._host_flow()
        if not await self._proved():
            await self._flow_off()
            raise _final(errno.EIO, "the module does not answer with RTS/CTS flow control on",
                         "check that RTS and CTS are wired, each to its counterpart "
                         f"({docs_link('hardware', '5-baud-rate-and-flow-control')}), or open it without {{setting}}")

    async def _host_flow(self) -> None:
        """RTS/CTS on the host's side, once the module runs it; a port that cannot is refused, and
        the module told to stop again."""
        try:
            await self._set_host_flow(True)
        except OSError as exc:
            await self._flow_off()
            raise _final(errno.EOPNOTSUPP, f"the port cannot do RTS/CTS flow control ({exc.strerror or exc})",
                         "open it without {setting}, or use a UART with RTS and CTS wired "
                         f"({docs_link('hardware', '5-baud-rate-and-flow-control')})") \
                from None

    async def _flow_off(self) -> None:
        """Flow control off at both ends (after a failed attempt to turn it on)."""
        if self.rtscts:
            await self._set_host_flow(False)
        await self._command(self.commands.flow(False) or self.commands.rate(self.baudrate, False))

    async def _set_host_flow(self, rtscts: bool) -> None:
        transport = self.engine.transport
        if not hasattr(transport, "set_flow_control"):
            raise OSError(errno.EOPNOTSUPP, "this kind of port has no RTS/CTS control")
        await transport.set_flow_control(rtscts)
        self.rtscts = rtscts

    async def _proved(self, attempts: int = PROOF_ATTEMPTS) -> bool:
        """An ``AT`` round trip at the line as it is now. Each probe waits twice as long as the one
        before: a loaded host hears the answer late, and a rate given up for that would be a false
        fall-back; one the wiring does not carry stays garbled however long it is waited for."""
        for attempt in range(attempts):
            try:
                await self.engine.sync(attempts=1, timeout=PROBE * 2 ** attempt, leave_data_mode=attempt == 0)
            except (CommandTimeout, CommandFailed):
                continue
            return True
        return False

    async def _save(self) -> None:
        command = self.commands.save(self.baudrate, self.rtscts)
        response = await self._command(command)
        if not response.final.ok:
            log.warning("the module refuses %s (%s): the line settings are not kept across a restart", command,
                        response.final.text)

    # --- closing --------------------------------------------------------------------------------
    async def restore(self) -> None:
        """Leave the module at the rate it was found at, flow control off, unless the settings were
        saved (then it restarts with them anyway). The host's port is closing: it is not switched."""
        if self.commands is None or self.save or self.found_at is None:
            return
        undo = []
        if self.rtscts and not self.commands.carries_flow:
            undo.append(self.commands.flow(False))
        if self.baudrate != self.found_at or (self.rtscts and self.commands.carries_flow):
            undo.append(self.commands.rate(self.found_at, False))
        for command in undo:
            response = await self.engine.command(command, timeout=T_SETTING, check=False)
            if not response.final.ok:
                log.info("the module refuses %s (%s) at close", command, response.final.text)


def _final(code: int, reason: str, advice: str) -> ModemError:
    """A line setting only the user can mend: recovery does not try again."""
    error = ModemError(code, reason, advice=advice, setting="flow_control")
    error.final = True
    return error
