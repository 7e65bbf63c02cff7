"""What every emulated module does the same way: boot, read a command, answer it.

A dialect subclasses :class:`EmulatedModule`, fills ``self.handlers`` (command name -> coroutine)
and says how it announces boot, how it frames a result line, and how it answers a command whose
parameters do not parse. Faults that strike before a command (reboot, network drop, echo back on)
and the one-off events ``hang`` and ``restart`` live here.

A module may have more than one command port: a multiplexer's virtual ports (fakemodem/cmux.py)
each run :meth:`EmulatedModule.serve_port`. ``module.serial`` is then the port the command in hand
came from (a context variable each port's loop sets), so that a handler's answer goes back where
its command came from without knowing there is more than one.
"""
import asyncio
import contextvars
import logging

from .atcommand import ATCommand, parse, split_args
from .serial_side import SerialSide
from .faults import Faults

log = logging.getLogger("fakemodem")

_port: contextvars.ContextVar = contextvars.ContextVar("fakemodem_port", default=None)


class PortSetting:
    """A module setting (``ATE``, ``AT+CMEE``...) that a port may keep a copy of its own, as
    ``own_<name>`` (a multiplexer channel whose settings are its own); otherwise the module's
    ``_<name>``. Read and written through the port of the command in hand."""

    def __init__(self, name: str):
        self.own, self.module_wide = "own_" + name, "_" + name

    def __get__(self, module, owner=None):
        if module is None:
            return self
        own = getattr(module.serial, self.own, None)
        return getattr(module, self.module_wide) if own is None else own

    def __set__(self, module, value) -> None:
        port = module.serial
        if getattr(port, self.own, None) is not None:
            setattr(port, self.own, value)
        else:
            setattr(module, self.module_wide, value)


class EmulatedModule:
    splitter = staticmethod(split_args)  # how the arguments of a write command are split

    def __init__(self, serial: SerialSide, faults: Faults, *, boot_delay: float, echo: bool, latency: float,
                 before_at: str = "error"):
        if before_at not in ("error", "ignored"):
            raise ValueError(f"before_at is 'error' or 'ignored', not {before_at!r}")
        self.before_at = before_at  # a line with other characters before "AT": ERROR, or those dropped
        self.uart_side = serial  # the UART's own command port
        self.faults = faults
        self.boot_delay = boot_delay
        self._echo = echo
        self.latency = latency
        self.handlers = {"": self.at, "E0": self.echo_off, "E1": self.echo_on}
        # command name -> information lines of its test form (=?), or None where that form is not
        # emulated (ERROR); a command not listed answers just OK
        self.test_answers = {}
        self._hung_until = 0.0
        self._reboot = asyncio.Event()

    @property
    def serial(self) -> SerialSide:
        """The port of the command in hand: the UART's, or a multiplexer's virtual port."""
        return _port.get() or self.uart_side

    echo = PortSetting("echo")

    def on_port(self, port: SerialSide, function, *args):
        """Run ``function(*args)`` as if the command in hand had come from ``port`` (for what a
        port's data mode does later, from a timer or the host socket's side)."""
        def run():
            _port.set(port)
            return function(*args)
        return contextvars.copy_context().run(run)

    # --- for the dialect to provide -----------------------------------------------------------
    def announce_boot(self) -> None:
        raise NotImplementedError

    def going_down(self) -> None:
        """What the module prints as it goes down, before it stops listening (nothing by default)."""

    def refusing(self) -> bool:
        """True while the module answers every command ``ERROR`` (up but not ready; never by default)."""
        return False

    def final(self, text: str) -> None:
        raise NotImplementedError

    def bad_parameters(self, command: ATCommand) -> None:
        self.final("ERROR")

    def unknown_command(self, line: str) -> None:
        self.final("ERROR")

    def reply(self, *lines: str) -> None:
        raise NotImplementedError

    def drop_network(self, announce: bool = True) -> None:
        """The network takes the data context or the Wi-Fi; with ``announce`` False the module's
        notice of it is lost (a URC sent to another port, a line lost on the wire)."""
        raise NotImplementedError

    # --- the command loop ---------------------------------------------------------------------
    async def run(self) -> None:
        while True:
            await self._boot()
            while not self._reboot.is_set():
                line = await self.uart_side.read_command(self.echo, interrupted=self._reboot.is_set)
                if line is not None:
                    await self._execute(line)

    async def serve_port(self, port: SerialSide) -> None:
        """The command loop of a second port: its lines run as the UART's do, answered on it."""
        _port.set(port)  # in this task's own context
        while True:
            line = await port.read_command(lambda: self.echo)
            await self._execute(line)

    async def _boot(self) -> None:
        """Down and up again on the module's own clock: nothing the host sends (or not) changes when."""
        self._reboot.clear()
        self.going_down()
        self.uart_side.listening = False  # input before boot completes is lost, as on a module
        self.uart_side.discard_input()
        await asyncio.sleep(self.boot_delay)
        self.uart_side.listening = True
        self.uart_side.note("boot")
        self.announce_boot()

    async def _execute(self, line: str) -> None:
        if asyncio.get_running_loop().time() < self._hung_until:
            return  # a hung module reads and says nothing
        if self.command_faults():
            return
        if self.before_at == "ignored":  # ("+++AT", say: an escape sent to a module in command mode)
            start = line.upper().find("AT")
            line = line[start:] if start > 0 else line
        if self.refusing():
            self.final("ERROR")
            return
        try:
            command = parse(line, self.splitter)
        except ValueError:
            command = None
        handler = self.handlers.get(command.name) if command else None
        if handler is None:
            self.unknown_command(line)
            return
        if command.kind == "test":
            lines = self.test_answers.get(command.name, ())
            if lines is None:
                self.final("ERROR")
            else:
                self.reply(*lines)
            return
        self.serial.executing = True
        writes = self.serial.writes
        try:
            delay = self.latency + self.faults.delay()
            if delay:
                await asyncio.sleep(delay)
            await handler(command)
        except (ValueError, IndexError, TypeError) as exc:
            # a missing, malformed or out-of-range parameter: the firmware's parameter error
            if self.serial.writes != writes:  # the handler had answered already: the emulator's fault
                log.warning("%r failed after it was answered: %r", line, exc)
            log.debug("bad parameters in %r: %r", line, exc)
            self.bad_parameters(command)
        except Exception:
            log.exception("emulator fault while executing %r", line)
            self.final("ERROR")
        finally:
            self.serial.executing = False

    def command_faults(self) -> bool:
        """Faults that strike before a command; True if the command is lost with them."""
        if self.faults.chance("reboot"):
            self.restart()
            return True
        if self.faults.chance("drop"):
            self.drop_network()
        if self.faults.chance("echo"):
            self.echo = True
        return False

    # --- events -------------------------------------------------------------------------------
    def hang(self, seconds: float) -> None:
        self._hung_until = asyncio.get_running_loop().time() + seconds

    def restart(self) -> None:
        """The dialect resets its state, then this makes the loop boot again."""
        self.uart_side.note("restart")
        self.uart_side.leave_data_mode()
        self._reboot.set()  # the loop boots again once the command in hand (if any) is done,
        self.uart_side.wake()  # or at once if it is waiting for a command

    @property
    def data_mode(self) -> bool:
        """True while the line carries raw data (transparent mode)."""
        return self.serial.data_mode is not None

    def leave_data_mode(self) -> None:
        """What ``+++`` with its guard times does (for harnesses that cannot wait them out)."""
        if self.serial.data_mode is not None:
            self.serial.data_mode.escape()

    # --- the UART -----------------------------------------------------------------------------------
    def line_rate(self):
        """The UART's rate now (None on a line without one, such as a test's)."""
        return getattr(self.serial.line, "baudrate", None)

    def set_rate(self, rate) -> None:
        """The UART changes rate once what is written has left (the OK goes at the old rate)."""
        if hasattr(self.serial.line, "change_rate"):
            self.serial.line.change_rate(rate)

    def watch_flow(self, flow) -> None:
        """``flow()`` tells the UART which of RTS and CTS the module runs at any moment."""
        if hasattr(self.serial.line, "flow"):
            self.serial.line.flow = flow

    # --- commands every module has ------------------------------------------------------------
    async def at(self, cmd: ATCommand) -> None:
        self.final("OK")

    async def echo_off(self, cmd: ATCommand) -> None:
        self.echo = False
        self.final("OK")

    async def echo_on(self, cmd: ATCommand) -> None:
        self.echo = True
        self.final("OK")
