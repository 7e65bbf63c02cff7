"""``open_modem`` and the :class:`Modem`: one serial port, its engine thread, its dialect, its sockets.

The Modem is the façade the socket layer talks to: every socket operation is a method here that
runs the socket core's coroutine on the engine's loop and turns internal failures into ``OSError``.
It picks its dialect by name from :mod:`atsock.registry`; the module-level ``atsock.socket`` and
``atsock.getaddrinfo`` use the most recently opened modem (:mod:`atsock.surface.current`).
"""
import asyncio
import concurrent.futures
import errno
import logging
from typing import Any, Awaitable, Callable, List, Optional

from . import registry
from .constants import AF_INET, SOCK_STREAM
from .core.connection import Connection
from .core.lifecycle import MachineError, ModemLifecycle, ModemState
from .core.recovery import Recovery
from .core.socketcore import SocketCore
from .errors import NO_ANSWER_HINT, CommandFailed, CommandTimeout, ModemGone, os_error, timeout_error
from .surface import current, receiving, usock
from .surface.addrinfo import resolve_addrinfo
from .wire.channel import ATChannel
from .wire.engine import Engine
from .wire.linerate import Line
from .wire.loop_thread import LoopThread
from .wire.rawat import ATResult, run as run_raw_command
from .wire.transport import open_serial

log = logging.getLogger("atsock.modem")

current_modem = current.current_modem


def public_error(exc: Exception) -> Exception:
    """The OSError a caller sees for an internal failure (``exc`` itself when it is one already)."""
    if isinstance(exc, asyncio.TimeoutError):  # on 3.11+ this also catches our own OSError(ETIMEDOUT)
        return exc if getattr(exc, "errno", None) == errno.ETIMEDOUT else timeout_error()
    if isinstance(exc, CommandTimeout):
        return timeout_error(str(exc))
    if isinstance(exc, ModemGone):
        return os_error(errno.EIO, f"modem port is gone: {exc}")
    if isinstance(exc, CommandFailed):
        return os_error(errno.EIO, str(exc))
    if isinstance(exc, MachineError):
        return os_error(errno.EINVAL, f"not possible in this state: {exc}")
    return exc


async def _with_public_errors(coro: Awaitable[Any]) -> Any:
    try:
        return await coro
    except Exception as exc:
        public = public_error(exc)
        if public is exc:
            raise
        raise public from None


def open_modem(port, dialect: str = "quectel", *, baudrate: int = 115200, flow_control: Optional[str] = None,
               save_baudrate: bool = False, recover: bool = True, max_recovery_attempts: int = 5,
               progress: Optional[Callable[[str], None]] = None, **settings) -> "Modem":
    """Open ``port`` (a device path, any pyserial URL, or an open pyserial port), bring the module
    online, and return it.

    The module is found at whatever rate it is (``baudrate`` first, then the usual ones) and both
    ends are switched to ``baudrate`` (Quectel ``AT+IPR``, ESP-AT ``AT+UART_CUR``), proved with an
    ``AT`` round trip; a rate the module refuses or does not answer at leaves the line where it was,
    with a warning (``Modem.baudrate`` says what is in use). ``flow_control`` "rtscts" turns on
    RTS/CTS at both ends (``AT+IFC=2,2`` or ``AT+UART_CUR``'s flow bits, and the port's ``rtscts``),
    or fails with a ModemError where the module or the port cannot. ``save_baudrate`` True keeps the
    settings across a restart of the module (``AT&W`` / ``AT+UART_DEF``); otherwise closing the modem
    leaves the module at the rate it was found at.

    ``settings`` go to the dialect, which checks them before the port is touched:

    - both: ``timeouts`` (a dict of seconds for "open", "send", "read" and "close", in place of the
      manuals' figures), ``sync_timeout`` (how long the module may take to answer ``AT``, 10 s),
      ``escape_guard`` (data mode: the silence around ``+++``, 1 s on Quectel, 0.02 s on ESP-AT);
    - Quectel: ``apn``, ``user``, ``password``, ``auth`` ("none", "pap" or "chap"; "pap" where a
      user or password is given), ``context_id`` (1 to 16), ``ip_version`` ("ipv4", "ipv6",
      "ipv4v6"), ``pin``, ``registration_timeout`` (90 s), ``registration_poll`` (1 s) and
      ``cmux`` (True: the line as a TS 27.010 multiplexer, AT commands on one channel and a
      channel per socket in data mode);
    - ESP-AT: ``ssid``, ``key``, ``receive`` ("passive", the default: the host fetches, with
      back-pressure; "active": the module pushes), ``ipv6`` (ESP-AT 2.x), ``reset`` (``AT+RST``
      first, the default), ``send_max`` (bytes per ``AT+CIPSEND``; by default what the firmware
      takes) and ``escape_settle`` (the wait after leaving passthrough, 1 s).

    With ``recover`` (the default) the modem brings itself back after a reboot, a lost network or
    a vanished port, up to ``max_recovery_attempts`` bring-ups in a row; a failure only the user
    can mend (a wrong PIN, a denied registration, a refused APN: ``ModemError.final``) ends it.
    ``progress``, where given, is called (on the engine thread) with what bring-up waits for, in
    words: "waiting for the network: searching (LTE)...".
    A bring-up that fails raises an ``OSError``; the modem's own failures are
    :class:`~atsock.errors.ModemError` subclasses (``SimError``, ``RegistrationError``,
    ``DataContextError``, ``StartupError``) whose attributes say what happened and which setting
    mends it.
    """
    return Modem(port, dialect, baudrate=baudrate, flow_control=flow_control, save_baudrate=save_baudrate,
                 recover=recover, max_recovery_attempts=max_recovery_attempts, progress=progress, **settings)


class Modem:
    """One module on one serial port: its engine thread, its dialect and its sockets. Made by
    :func:`open_modem`, online when it returns; ``close()`` (or ``with``) closes its sockets and the
    port."""
    def __init__(self, port, dialect: str = "quectel", *, baudrate: int = 115200, flow_control: Optional[str] = None,
                 save_baudrate: bool = False, recover: bool = True, max_recovery_attempts: int = 5,
                 progress: Optional[Callable[[str], None]] = None, **settings):
        self.port = port
        self.dialect_class = registry.get(dialect)
        # (checks its arguments before the port is touched; an open pyserial port is at its own rate)
        self.line = Line(None, self.dialect_class.line_commands, baudrate, flow_control, save_baudrate,
                         current=getattr(port, "baudrate", None))
        self.life = ModemLifecycle()
        self.recovery = Recovery(self, max_attempts=max_recovery_attempts) if recover else None
        self._listeners: List[Callable[[str, str], None]] = []
        self.life.add_listener(self._state_changed)
        self._thread = LoopThread(name=f"atsock-{self.dialect_class.name}")
        self.engine: Optional[Engine] = None
        self.dialect = None
        self.core: Optional[SocketCore] = None
        self._brought_up = False
        self._progress = progress
        try:
            self._thread.run(self._start(port, settings))
        except BaseException:
            self._teardown()
            raise
        current.opened(self)

    async def _start(self, port: str, settings: dict) -> None:
        cls = self.dialect_class
        channel = ATChannel(urc_prefixes=cls.urc_prefixes, payload_rules=cls.payload_rules,
                            terminator=cls.command_terminator)
        self.engine = Engine(channel)
        self.engine.probe_command = cls.probe
        self.dialect = cls(self.engine, self.life, **settings)  # validates settings before the port is touched
        self.core = SocketCore(self.engine, self.dialect.commands)
        self.line.engine = self.engine
        self.line.on_change = self._rate_changed
        self.core.flow_control = lambda: self.line.rtscts
        self._rate_changed(self.line.baudrate)  # (an open pyserial port has its own)
        self.dialect.serial_line = self.line
        self.dialect.core = self.core
        self.core.data_lines = self.dialect.data_lines
        self.dialect.report_trouble = self._trouble
        self.dialect.report_progress = self._report_progress
        self.engine.on_gone(self._port_gone)
        self.engine.on_unresponsive(lambda: self._trouble("unresponsive", errno.ETIMEDOUT,
                                                          "the modem stopped answering", False))
        loop = asyncio.get_running_loop()
        await open_serial(loop, port, self.line.baudrate, self._port_protocol)
        await asyncio.sleep(0)  # let connection_made run
        self.life.open_port()
        try:
            await self.dialect.bring_up()
            self._brought_up = True  # from now on, trouble starts a recovery
        except CommandTimeout as exc:
            self.life.fail()
            raise os_error(errno.ETIMEDOUT, f"modem on {port} does not answer: {exc}; {NO_ANSWER_HINT}") from None
        except CommandFailed as exc:
            self.life.fail()
            raise os_error(errno.EIO, f"modem bring-up failed: {exc}") from None
        except ModemGone as exc:
            if self.life.can("fail"):
                self.life.fail()
            raise os_error(errno.EIO, f"modem port {port} went away during bring-up: {exc}") from None
        except BaseException:
            if self.life.can("fail"):
                self.life.fail()
            raise

    def _rate_changed(self, baudrate: int) -> None:
        self.core.line_rate = baudrate / 10  # 10 bits a byte: data mode's guard times count from the line
        mux = self.dialect.line if self.dialect is not None else None
        if mux is not None:  # (cmux=True: the rate the module was found at, before AT+CMUX)
            mux.clock.rate = baudrate / 10

    # --- trouble ------------------------------------------------------------------------------
    def _trouble(self, kind: str, code: int, reason: str, keep_connections: bool) -> None:
        """The module, its network or the port went away. Sockets that cannot survive it fail with
        ``code`` and their ids are free (the module no longer has them); then recovery starts."""
        log.info("%s: %s", kind, reason)  # callers get the errno; recovery is logged as it goes
        if kind == "reboot":  # what was in flight went to a module that no longer exists
            self.engine.abandon_in_flight(os_error(code, reason))
        if not keep_connections:
            self.core.reset(code, reason)
            self.dialect.forget_connections()
        if self.recovery is not None and self._brought_up:
            self.recovery.on_trouble(kind)

    def _report_progress(self, text: str) -> None:
        log.info("%s", text)
        if self._progress is not None:
            try:
                self._progress(text)
            except Exception:
                log.exception("progress listener failed")

    def _port_gone(self) -> None:
        if self.life.state in (ModemState.CLOSING, ModemState.CLOSED) or not self._brought_up:
            self.core.reset(errno.EBADF, "the modem was closed")  # our own close: nothing to report
            return
        self._trouble("port_lost", errno.EIO, "serial port closed", False)

    # --- state ----------------------------------------------------------------------------------
    @property
    def state(self) -> ModemState:
        """Where the modem is in its lifecycle (:class:`~atsock.core.lifecycle.ModemState`: ``online``,
        ``recovering``, ``failed``...); the Lifecycles page of the docs draws the machine."""
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
    def baudrate(self) -> int:
        """The line rate in use (the module's and the port's, once bring-up proved it)."""
        return self.line.baudrate

    @property
    def flow_control(self) -> Optional[str]:
        """``"rtscts"`` while both ends run RTS/CTS flow control, else None."""
        return self.line.flow_control

    @property
    def stats(self) -> dict:
        """Counters of what crossed the wire (commands, by name, bytes), for demos and benchmarks;
        with ``cmux=True`` the multiplexer's under ``"cmux"``."""
        data = self.engine.stats.snapshot() if self.engine else {}
        line = self.dialect.line if self.dialect is not None else None
        if line is not None:
            data["cmux"] = line.stats()
        return data

    @property
    def recoveries(self) -> int:
        """How many times the modem brought itself back after trouble."""
        return self.recovery.recoveries if self.recovery else 0

    @property
    def registration(self) -> Optional[str]:
        """The network registration in words ("registered (home)", "registered (roaming)"), on a
        cellular modem once it is registered; None on a Wi-Fi one."""
        return self.dialect.registration if self.dialect else None

    @property
    def local_ip(self) -> Optional[str]:
        """The module's IPv4 address on its network (the data context's, or the Wi-Fi station's), ``None``
        before bring-up gives one."""
        return self.dialect.local_ip if self.dialect else None

    @property
    def local_ipv6(self) -> Optional[str]:
        """The module's IPv6 address, where its context or Wi-Fi has one; else ``None``."""
        return self.dialect.local_ipv6 if self.dialect else None

    def family_refusal(self, family: int) -> Optional[str]:
        """Why sockets of ``family`` cannot be used on this modem, or None when they can."""
        return self.dialect.family_refusal(family)

    @property
    def max_sockets(self) -> int:
        """How many sockets the module can have open at once."""
        return self.core.commands.max_links

    @property
    def connect_holds_module(self) -> bool:
        """True where a connect runs to its end inside one command and the module takes no other
        meanwhile (ESP-AT's AT+CIPSTART): one given up by its caller still holds the module."""
        return not self.core.commands.abortable_open

    @property
    def max_datagram(self) -> int:
        """The longest datagram the module sends in one command (larger ones are ``EMSGSIZE``)."""
        return self.core.commands.max_datagram

    @property
    def firmware_major(self) -> Optional[int]:
        """The firmware generation, where the dialect tells one (ESP-AT: 1 or 2)."""
        return getattr(self.dialect, "firmware_major", None)

    @property
    def incoming_refused(self) -> int:
        """Clients the module turned away because every id was in use (Quectel ``incoming full``)."""
        return getattr(self.dialect, "incoming_refused", 0)

    def socket_ids(self) -> List[int]:
        """The module's ids this process holds (open, or closing and not yet confirmed free)."""
        return self.run(self._on_loop(self.core.ids_in_use))

    def local_ports(self):
        return self.run(self._on_loop(self.core.local_ports))

    @staticmethod
    async def _on_loop(function):
        return function()

    # --- running on the engine ----------------------------------------------------------------
    def run(self, coro: Awaitable[Any]) -> Any:
        """Run a coroutine on the engine and turn internal failures into OSError."""
        try:
            return self._thread.run(coro)
        except Exception as exc:
            public = public_error(exc)
            if public is exc:
                raise
            raise public from None

    def submit(self, coro: Awaitable[Any]) -> concurrent.futures.Future:
        """Start a coroutine on the engine without waiting for it (for :mod:`atsock.asyncio`): its
        future holds the result, or the failure as :meth:`run` would raise it."""
        if not self._thread.alive:
            coro.close()
            raise os_error(errno.EBADF, "modem is closed")
        return self._thread.submit(_with_public_errors(coro))

    def require_online(self) -> None:
        if self.state is not ModemState.ONLINE:
            hint = self.dialect_class.not_online_hint if self.state is ModemState.REGISTERING else ""
            state = self.dialect_class.state_words.get(self.state, self.state.value)
            raise os_error(errno.ENETDOWN, f"modem is {state}, not online{hint}")

    async def reopen_port(self) -> None:
        """Open the same port again after it vanished (recovery calls this)."""
        if not isinstance(self.port, str):
            raise OSError(f"cannot reopen {self.port!r}: only ports given by path or URL can come back")
        self.engine.revive()
        try:
            self.line.rtscts = False  # a port opened again starts without it; bring-up turns it on again
            await open_serial(asyncio.get_running_loop(), self.port, self.line.baudrate, self._port_protocol)
        except BaseException:
            self.engine.gone = self.engine.gone or OSError("serial port not back yet")
            raise
        await asyncio.sleep(0)

    # --- socket operations (the socket layer's side) -------------------------------------------
    def resolve(self, host: str, family: int = 0) -> List[str]:
        self.require_online()
        return self.run(self.dialect.resolve(host, family))

    def connect(self, conn: Connection, ip: str, port: int, timeout: Optional[float], local_port: int = 0) -> None:
        self.require_online()
        self.run(self.core.connect(conn, ip, port, timeout, local_port))

    def start_connect(self, conn: Connection, ip: str, port: int, local_port: int = 0) -> asyncio.Future:
        """A connect that goes on in the background; its verdict lands in ``conn.connect_error``."""
        self.require_online()
        return self.run(receiving.start_connect(self.core, conn, ip, port, local_port))

    def listen(self, conn: Connection, port: int, backlog: int, timeout: Optional[float] = None) -> None:
        self.require_online()
        self.run(self.core.listen(conn, port, backlog, timeout))

    def bind_udp(self, conn: Connection, port: int, peer=None, timeout: Optional[float] = None) -> None:
        self.require_online()
        self.run(self.core.bind_udp(conn, port, peer, timeout))

    def send(self, conn: Connection, data: bytes, timeout: Optional[float], dest=None) -> int:
        return self.run(self.core.send(conn, data, timeout, dest))

    def receive(self, conn: Connection, bufsize: int, timeout: Optional[float], peek: bool = False) -> bytes:
        return self.run(receiving.stream(self.core, conn, bufsize, timeout, peek))

    def receive_datagram(self, conn: Connection, timeout: Optional[float], peek: bool = False, peer=None):
        return self.run(receiving.datagram(self.core, conn, timeout, peek, peer))

    def unread(self, conn: Connection, data: bytes) -> None:
        self.run(self._on_loop(lambda: self.core.unread(conn, data)))

    def gather(self, conn: Connection, limit: Optional[int], until: Optional[bytes], timeout: Optional[float]):
        return self.run(receiving.gather(self.core, conn, limit, until, timeout))

    def accept(self, conn: Connection, timeout: Optional[float]) -> Connection:
        return self.run(receiving.incoming(self.core, conn, timeout))

    def enter_data_mode(self, conn: Connection) -> None:
        self.run(self.core.enter_data_mode(conn))

    def leave_data_mode(self, conn: Connection) -> None:
        self.run(self.core.leave_data_mode(conn))

    def close_connection(self, conn: Connection, wait: Optional[float] = None) -> None:
        """Close ``conn``; the module's confirmation is waited for at most ``wait`` seconds."""
        self.run(self.core.close(conn, wait))

    def close_later(self, conn: Connection) -> None:
        """Release a connection whose socket was dropped without close(), without waiting for it."""
        if self._thread.alive and self.engine is not None and self.engine.gone is None:
            self._thread.call_soon(self.core.close_soon, conn)

    # --- one raw command (signal, IMEI... what the socket API does not cover) ---------------------
    def at(self, command: str, *, timeout: float = 5.0, check: bool = True) -> ATResult:
        """One raw AT command through the engine (``.lines``, ``.final``, ``.ok``); see :mod:`atsock.wire.rawat`."""
        return run_raw_command(self, command, timeout=timeout, check=check)

    # --- for programs that name their modem -------------------------------------------------------
    def socket(self, af: int = AF_INET, type: int = SOCK_STREAM, proto: int = 0) -> usock.socket:
        """A socket on this modem (``atsock.socket`` makes one on the modem opened last)."""
        return usock.socket(af, type, proto, modem=self)

    def getaddrinfo(self, host, port, af=0, type=0, proto=0, flags=0):
        """``getaddrinfo`` through this modem's DNS, as ``atsock.getaddrinfo`` is through the last one
        opened."""
        return resolve_addrinfo(lambda: self, host, port, af, type, proto, flags)

    # --- Wi-Fi (dialects that join a network) ---------------------------------------------------
    def _wifi(self, name: str):
        method = getattr(self.dialect, name, None)
        if method is None:
            raise os_error(errno.EOPNOTSUPP, f"a {self.dialect_class.name} modem has no Wi-Fi to {name}")
        return method

    def join(self, ssid: str, key: str = "") -> None:
        """Join a Wi-Fi network (ESP-AT ``AT+CWJAP``) and use it from now on, recoveries included; a
        refusal raises :class:`~atsock.errors.ModemError` with the module's reason. ``EOPNOTSUPP`` on a
        cellular modem."""
        self.run(self._wifi("join")(ssid, key))

    def leave(self) -> None:
        """Leave the Wi-Fi network (``AT+CWQAP``): the sockets fail with ``ENETDOWN`` and the modem waits
        in ``registering`` until :meth:`join`."""
        self.run(self._wifi("leave")())

    def ifconfig(self):
        """MaixPy's ``(ip, netmask, gateway, dns, dhcp, mac, ssid)`` of the Wi-Fi station, ``"0"`` where
        the module does not tell."""
        return self.run(self._wifi("ifconfig")())

    # --- closing --------------------------------------------------------------------------------
    def close(self) -> None:
        """Close every socket of this modem (AT+QICLOSE...), then the port. Idempotent."""
        current.closed(self)
        if self._thread.alive and self.life.can("shut_down"):
            try:
                self._thread.run(self._shut_down())
            except Exception as exc:
                log.warning("closing modem %s: %s", self.port, exc)
        self._teardown()

    async def _shut_down(self) -> None:
        if self.recovery is not None:
            self.recovery.cancel()
        online = self.engine.gone is None and self.life.state is not ModemState.FAILED
        self.life.shut_down()
        try:
            if online:
                await asyncio.wait_for(self._close_everything(), 30)
        finally:
            self._close_port()
            await asyncio.sleep(0)
            self.life.port_closed()

    async def _close_everything(self) -> None:
        await self.core.close_all()
        await self.dialect.shut_down()
        await self.line.restore()

    def _teardown(self) -> None:
        if self.engine is not None and self._thread.alive:
            self._thread.run(self._release_port())
        self._thread.stop()

    async def _release_port(self) -> None:
        """Close the port before the loop stops: the transport closes it on the loop's next turn,
        and a port left open (after a failed bring-up) keeps its exclusive lock: EBUSY next time."""
        self._close_port()
        await asyncio.sleep(0)

    def _port_protocol(self):
        """What the serial port feeds: the engine, or the multiplexer under it (``cmux=True``)."""
        line = self.dialect.line if self.dialect is not None else None
        return line or self.engine

    def _close_port(self) -> None:
        self._port_protocol().close()

    def __enter__(self) -> "Modem":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<Modem {self.dialect_class.name} on {self.port}: {self.state}>"
