"""``open_modem`` and the :class:`Modem`: one serial port, its engine thread, its dialect.

The module-level ``atsock.socket`` and ``atsock.getaddrinfo`` use the most recently opened modem
that is still open, so MicroPython code that never names a network interface runs unchanged.
"""
import asyncio
import errno
import logging
import threading
from typing import Any, Awaitable, Callable, List, Optional

from .channel import ATChannel
from .engine import Engine
from .errors import NO_ANSWER_HINT, CommandFailed, CommandTimeout, ModemGone, os_error, timeout_error
from .lifecycle import MachineError, ModemLifecycle
from .loop_thread import LoopThread
from .rawat import ATResult, run as run_raw_command
from .recovery import Recovery
from .transport import open_serial

log = logging.getLogger("atsock.modem")

_open_modems: List["Modem"] = []
_registry_lock = threading.Lock()


def current_modem() -> "Modem":
    with _registry_lock:
        if not _open_modems:
            raise os_error(errno.ENETDOWN, "no modem is open: call atsock.open_modem() first")
        return _open_modems[-1]


def open_modem(port, dialect: str = "quectel", *, baudrate: int = 115200, recover: bool = True,
               max_recovery_attempts: int = 5, **settings) -> "Modem":
    """Open ``port`` (a device path, any pyserial URL, or an open pyserial port), bring the module
    online, and return it.

    ``settings`` go to the dialect: for Quectel ``apn``, ``user``, ``password``, ``auth``,
    ``context_id``, ``pin``, ``registration_timeout``; for ESP-AT ``ssid``, ``key``, ``receive``.
    With ``recover`` (the default) the modem brings itself back after a reboot, a lost network or
    a vanished port, up to ``max_recovery_attempts`` bring-ups in a row.
    """
    return Modem(port, dialect, baudrate=baudrate, recover=recover,
                 max_recovery_attempts=max_recovery_attempts, **settings)


class Modem:
    def __init__(self, port, dialect: str = "quectel", *, baudrate: int = 115200, recover: bool = True,
                 max_recovery_attempts: int = 5, **settings):
        from modems import get_dialect  # the dialect packages build on atsock's core

        self.port = port
        self.baudrate = baudrate
        self.recovery = Recovery(self, max_attempts=max_recovery_attempts) if recover else None
        self.dialect_class = get_dialect(dialect)
        self.life = ModemLifecycle()
        self._listeners: List[Callable[[str, str], None]] = []
        self.life.add_listener(self._state_changed)
        self._thread = LoopThread(name=f"atsock-{self.dialect_class.name}")
        self.engine: Optional[Engine] = None
        self.dialect = None
        try:
            self._thread.run(self._start(port, baudrate, settings))
        except BaseException:
            self._teardown()
            raise
        with _registry_lock:
            _open_modems.append(self)

    async def _start(self, port: str, baudrate: int, settings: dict) -> None:
        cls = self.dialect_class
        channel = ATChannel(urc_prefixes=cls.urc_prefixes, payload_rules=cls.payload_rules,
                            terminator=cls.command_terminator)
        self.engine = Engine(channel)
        self.dialect = cls(self.engine, **settings)  # validates settings before the port is touched
        loop = asyncio.get_running_loop()
        await open_serial(loop, port, baudrate, lambda: self.engine)
        await asyncio.sleep(0)  # let connection_made run
        self.engine.on_unresponsive(lambda: self.dialect.trouble(
            "unresponsive", errno.ETIMEDOUT, "the modem stopped answering"))
        self.life.open_port()
        try:
            await self.dialect.bring_up(self.life)
            if self.recovery is not None:  # from now on, trouble starts a recovery
                self.dialect.on_trouble = self.recovery.on_trouble
        except CommandTimeout as exc:
            self.life.fail()
            raise os_error(errno.ETIMEDOUT, f"modem on {port} does not answer: {exc}; {NO_ANSWER_HINT}") from None
        except CommandFailed as exc:
            self.life.fail()
            raise os_error(errno.EIO, f"modem bring-up failed: {exc}") from None
        except BaseException:
            if self.life.can("fail"):
                self.life.fail()
            raise

    # --- state ----------------------------------------------------------------------------------
    @property
    def state(self) -> str:
        return self.life.state

    def on_state_change(self, listener: Callable[[str, str], None]) -> None:
        """Call ``listener(old, new)`` (on the engine thread) whenever the modem's state changes."""
        self._listeners.append(listener)

    def _state_changed(self, old: str, new: str) -> None:
        log.info("modem %s: %s -> %s", self.port, old, new)
        for listener in list(self._listeners):
            try:
                listener(old, new)
            except Exception:
                log.exception("state listener failed")

    @property
    def stats(self) -> dict:
        """Counters of what crossed the wire (commands, by name, bytes), for demos and benchmarks."""
        return self.engine.stats.snapshot() if self.engine else {}

    @property
    def recoveries(self) -> int:
        """How many times the modem brought itself back after trouble."""
        return self.recovery.recoveries if self.recovery else 0

    @property
    def local_ip(self) -> Optional[str]:
        return self.dialect.local_ip if self.dialect else None

    # --- calls from the socket layer ------------------------------------------------------------
    def run(self, coro: Awaitable[Any]) -> Any:
        """Run a coroutine on the engine and turn internal failures into OSError."""
        try:
            return self._thread.run(coro)
        except asyncio.TimeoutError as exc:  # on 3.11+ this also catches our own OSError(ETIMEDOUT)
            if getattr(exc, "errno", None) == errno.ETIMEDOUT:
                raise
            raise timeout_error() from None
        except CommandTimeout as exc:
            raise timeout_error(str(exc)) from None
        except ModemGone as exc:
            raise os_error(errno.EIO, f"modem port is gone: {exc}") from None
        except CommandFailed as exc:
            raise os_error(errno.EIO, str(exc)) from None
        except MachineError as exc:
            raise os_error(errno.EINVAL, f"not possible in this state: {exc}") from None

    def close_later(self, link) -> None:
        """Release a link whose socket was dropped without close(), without waiting for it."""
        def schedule():
            task = asyncio.ensure_future(self.dialect.close_link(link))
            task.add_done_callback(lambda t: t.cancelled() or t.exception())

        if self._thread.alive and self.engine is not None and self.engine.gone is None:
            self._thread.call_soon(schedule)

    async def reopen_port(self) -> None:
        """Open the same port again after it vanished (recovery calls this)."""
        if not isinstance(self.port, str):
            raise OSError(f"cannot reopen {self.port!r}: only ports given by path or URL can come back")
        self.engine.revive()
        try:
            await open_serial(asyncio.get_running_loop(), self.port, self.baudrate, lambda: self.engine)
        except BaseException:
            self.engine.gone = self.engine.gone or OSError("serial port not back yet")
            raise
        await asyncio.sleep(0)

    def require_online(self) -> None:
        if self.state != "online":
            raise os_error(errno.ENETDOWN, f"modem is {self.state}, not online")

    def at(self, command: str, *, timeout: float = 5.0, check: bool = True) -> ATResult:
        """One raw AT command through the engine (``.lines``, ``.final``, ``.ok``); see :mod:`atsock.rawat`."""
        return run_raw_command(self, command, timeout=timeout, check=check)

    def socket(self, af: int = 2, type: int = 1, proto: int = 0):
        from .usock import socket

        return socket(af, type, proto, modem=self)

    def getaddrinfo(self, host, port, af=0, type=0, proto=0, flags=0):
        from .addrinfo import resolve_addrinfo

        return resolve_addrinfo(self, host, port, af, type, proto, flags)

    # --- closing --------------------------------------------------------------------------------
    def close(self) -> None:
        """Close every socket of this modem (AT+QICLOSE...), then the port. Idempotent."""
        with _registry_lock:
            if self in _open_modems:
                _open_modems.remove(self)
        if self._thread.alive and self.life.can("shut_down"):
            try:
                self._thread.run(self._shut_down())
            except Exception as exc:
                log.warning("closing modem %s: %s", self.port, exc)
        self._teardown()

    async def _shut_down(self) -> None:
        if self.recovery is not None:
            self.recovery.cancel()
        self.life.shut_down()
        try:
            if self.engine.gone is None:
                await asyncio.wait_for(self.dialect.shut_down(), 30)
        finally:
            self.engine.close()
            await asyncio.sleep(0)
            self.life.port_closed()

    def _teardown(self) -> None:
        if self.engine is not None and self._thread.alive:
            self._thread.call_soon(self.engine.close)
        self._thread.stop()

    def __enter__(self) -> "Modem":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<Modem {self.dialect_class.name} on {self.port}: {self.state}>"
