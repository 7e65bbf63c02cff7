"""Bring an ESP-AT module up: reset to ``ready``, tell the firmware generation, configure, join Wi-Fi."""
import asyncio
import errno
import logging
import re
from dataclasses import dataclass
from typing import Optional

from atsock.wire import atcmd
from atsock.core import startup, validate
from atsock.errors import ModemError, docs_link
from atsock.wire.fields import split_fields
from atsock.core.lifecycle import ModemLifecycle

from ..settings import check_seconds, check_timeouts
from .codes import BUSY, JOIN_ERRORS, SEND_MAX_LARGE, T_JOIN, T_QUERY, T_READY, recv_limit, send_limit
from .line import EspLine

log = logging.getLogger("atsock.esp")

_VERSION = re.compile(r"AT version:((\d+)\.(\d+)[0-9.]*)")


@dataclass
class Settings:
    """Everything ``open_modem(..., dialect="esp8285", **settings)`` accepts, checked up front."""

    ssid: Optional[str] = None
    key: str = ""
    receive: str = "passive"      # "passive": the host fetches (back-pressure); "active": +IPD pushes
    ipv6: bool = False            # AT+CIPV6=1 before joining (ESP-AT 2.x): AF_INET6 sockets
    reset: bool = True            # AT+RST first: a clean module, no links left by an earlier process
    send_max: Optional[int] = None  # bytes per AT+CIPSEND; None: what the firmware takes (2048, or 8192)
    sync_timeout: float = 10.0
    timeouts: Optional[dict] = None  # "open", "send", "read", "close": seconds instead of the docs'
    escape_guard: float = 0.02   # data mode: silence around "+++" (esp-at.md §5.3)
    escape_settle: float = 1.0   # data mode: the documents' wait after leaving passthrough, before a command

    def __post_init__(self):
        self.timeouts = check_timeouts(self.timeouts, ("open", "send", "read", "close"))
        check_seconds(self.escape_guard, "escape_guard")
        check_seconds(self.escape_settle, "escape_settle", zero=True)
        if self.ssid is not None:
            atcmd.escaped_text(self.ssid, "SSID", 32)
            atcmd.escaped_text(self.key, "Wi-Fi key", 64)
        if not isinstance(self.ipv6, bool):
            raise ValueError("ipv6 must be True or False")
        if self.receive not in ("passive", "active"):
            raise ValueError('receive must be "passive" or "active"')
        if self.send_max is not None and (isinstance(self.send_max, bool) or not isinstance(self.send_max, int)
                                          or not 1 <= self.send_max <= SEND_MAX_LARGE):
            raise ValueError(f"send_max must be in 1..{SEND_MAX_LARGE}")


class BringUp:
    def __init__(self, dialect, settings: Settings):
        self.d = dialect
        self.engine = dialect.engine
        self.settings = settings
        self.major = 1
        self.minor = 0
        self.version = ""       # the version number AT+GMR reported
        self.version_line = ""  # the whole line it came in (it names the chip on some builds)
        self.ipv6_refusal: Optional[str] = "IPv6 is off"  # why AF_INET6 sockets cannot be used; None: they can
        self._ready: Optional[asyncio.Future] = None

    def on_ready(self) -> bool:
        """``ready`` came; True if bring-up was waiting for it (otherwise it is a surprise reboot)."""
        if self._ready is not None and not self._ready.done():
            self._ready.set_result(None)
            return True
        return False

    async def run(self, life: ModemLifecycle) -> None:
        e, s, line = self.engine, self.settings, self.d.serial_line
        await startup.sync(e, s.sync_timeout, line)
        if s.reset:
            await self._reset()
        life.synced()
        await self.d.command(atcmd.build("ATE0"), timeout=T_QUERY)
        if line is not None:
            await line.settle()  # the rate and flow control asked for (AT+UART_CUR, AT+UART_DEF)
        response = await self.d.command(atcmd.build("AT+GMR"), timeout=T_QUERY)
        for line in response.lines:
            match = _VERSION.match(line.text)
            if match:
                self.major, self.minor, self.version = int(match.group(2)), int(match.group(3)), match.group(1)
                self.version_line = line.text
        log.info("ESP-AT firmware generation %d (%s)", self.major, self.version or "version not reported")
        self.d.commands.send_chunk = self.d.commands.max_datagram = \
            s.send_max or send_limit(self.major, self.minor, self.version_line)
        self.d.commands.recv_chunk = recv_limit(self.major)
        one = atcmd.number(1, 0, 1)
        await self.d.command(atcmd.build(self.cur("AT+CWMODE"), one), timeout=T_QUERY)
        await self._multi_connection()
        await self.d.command(atcmd.build("AT+CIPDINFO", one), timeout=T_QUERY)  # senders of UDP datagrams
        passive = atcmd.number(1 if s.receive == "passive" else 0, 0, 1)
        await self.d.command(atcmd.build("AT+CIPRECVMODE", passive), timeout=T_QUERY)
        await self._enable_ipv6()
        life.configured()
        life.sim_ready()  # no SIM on Wi-Fi: the next step is joining the network
        if s.ssid is not None:
            await self.join(life, s.ssid, s.key)

    async def _reset(self) -> None:
        """AT+RST, for a module with nothing left by an earlier program. Some 2.x builds refuse it:
        then what could be left (a server, links) is closed by hand. A module that restarts and
        never says ``ready`` goes on if it answers AT, and is reported as such if it does not."""
        e, line = self.engine, self.d.serial_line
        boot_rate = await self._boot_rate()
        self._ready = asyncio.get_running_loop().create_future()
        try:
            response = await self.d.command(atcmd.build("AT+RST"), timeout=T_QUERY, check=False)
            if not response.final.ok:
                log.info("the module refuses AT+RST (%s): closing what an earlier program left instead",
                         response.final.text)
                await self._close_leftovers()
                return
            restarted = e.unhandled
            if boot_rate is not None and line is not None:
                await line.listen_at(boot_rate)  # it restarts at its saved rate, not the one it was set to
            try:
                await asyncio.wait_for(self._ready, T_READY)
            except asyncio.TimeoutError:
                await startup.restarted(e, restarted, "AT+RST", line)
                return
        finally:
            self._ready = None
        await startup.sync(e, self.settings.sync_timeout, line)

    async def _boot_rate(self) -> Optional[int]:
        """The rate the module restarts at (``AT+UART_DEF?``), where the line could change."""
        if self.d.serial_line is None:
            return None
        response = await self.d.command(EspLine.boot_query, timeout=T_QUERY, response_prefixes=("+UART_DEF:",),
                                        check=False)
        return EspLine.boot_rate(response.values("+UART_DEF:")) if response.final.ok else None

    async def _close_leftovers(self) -> None:
        """Without a restart: the server stopped, every link closed, in either CIPMUX mode (each
        command may find nothing to do and say ERROR)."""
        for command in (atcmd.build("AT+CIPSERVER", atcmd.number(0, 0, 1)),
                        atcmd.build("AT+CIPCLOSE", atcmd.number(5, 0, 5)), atcmd.build("AT+CIPCLOSE")):
            await self.d.command(command, timeout=T_QUERY, check=False)

    async def _multi_connection(self) -> None:
        """AT+CIPMUX=1, also after an earlier process left passthrough's single link behind (its
        data mode escaped at start-up): that link is closed and normal transmission restored."""
        one = atcmd.number(1, 0, 1)
        response = await self.d.command(atcmd.build("AT+CIPMUX", one), timeout=T_QUERY, check=False)
        if response.final.ok:
            return
        log.info("the module is in single-connection mode with a link open: closing it")
        await self.d.command(atcmd.build("AT+CIPMODE", atcmd.number(0, 0, 1)), timeout=T_QUERY, check=False)
        await self.d.command(atcmd.build("AT+CIPCLOSE"), timeout=T_QUERY, check=False)
        await self.d.command(atcmd.build("AT+CIPMUX", one), timeout=T_QUERY)

    async def _enable_ipv6(self) -> None:
        """AT+CIPV6=1 before any join (the IPv6 addresses are obtained by AT+CWJAP); what keeps
        AF_INET6 sockets away otherwise is kept in ``ipv6_refusal``."""
        if not self.settings.ipv6:
            self.ipv6_refusal = "IPv6 is off: open the modem with ipv6=True (AT+CIPV6=1 before joining the network)"
            return
        if self.major < 2:
            self.ipv6_refusal = f"ESP-AT firmware {self.version or '1.x'} is NonOS AT 1.x, which has no IPv6"
        else:
            response = await self.d.command(atcmd.build("AT+CIPV6", atcmd.number(1, 0, 1)), timeout=T_QUERY,
                                            check=False)
            self.ipv6_refusal = None if response.final.ok else \
                f"ESP-AT firmware {self.version or '2.x'} refuses AT+CIPV6 (IPv6 came with ESP-AT 2.2)"
        if self.ipv6_refusal is not None:
            log.warning("ipv6=True, but %s: the modem is IPv4 only", self.ipv6_refusal)

    def cur(self, command: str) -> str:
        """1.x has the RAM-only ``_CUR`` variants; 2.x plain names (persistence set elsewhere)."""
        return command + "_CUR" if self.major == 1 else command

    async def join(self, life: ModemLifecycle, ssid: str, key: str) -> None:
        command = atcmd.build(self.cur("AT+CWJAP"), atcmd.escaped_text(ssid, "SSID", 32),
                              atcmd.escaped_text(key, "Wi-Fi key", 64))
        response = await self.d.command(command, timeout=T_JOIN, response_prefixes=("+CWJAP:",),
                                        extra_finals=frozenset({"FAIL"}), check=False)
        if not response.final.ok:
            codes = [split_fields(v)[0] for v in response.values("+CWJAP:")]
            code = int(codes[0]) if codes and codes[0].isdigit() else 0
            unknown = (errno.ECONNREFUSED, f"Wi-Fi join failed (code {code})", None)
            number, text, setting = JOIN_ERRORS.get(code, unknown)
            raise ModemError(number, f"{text}: {ssid!r}", advice="check {setting}" if setting else "", setting=setting,
                             docs=docs_link("troubleshooting", "esp-join-codes"))
        life.registered()
        response = await self.d.command(atcmd.build("AT+CIFSR"), timeout=T_QUERY, response_prefixes=("+CIFSR:",))
        self.d.local_ipv6 = None  # (a global address may come later, or never: ipv6.md §2.2)
        for value in response.values("+CIFSR:"):
            fields = split_fields(value)
            if fields[0] == "STAIP" and len(fields) > 1:
                self.d.local_ip = fields[1]
            elif fields[0] in ("STAIP6GL", "STAIP6LL") and len(fields) > 1 and validate.ip_literal(fields[1]):
                if fields[0] == "STAIP6GL" or self.d.local_ipv6 is None:  # the global one where there is one
                    self.d.local_ipv6 = validate.ip_literal(fields[1])
            elif fields[0] == "STAMAC" and len(fields) > 1:
                self.d.mac = fields[1]
        self.d.ssid = ssid
        life.activated()

    async def leave(self, life: ModemLifecycle) -> None:
        if life.can("network_lost"):  # first: the WIFI DISCONNECT that follows is expected
            life.network_lost()
        await self.d.command(atcmd.build("AT+CWQAP"), timeout=T_QUERY)
        self.d.ssid = None


__all__ = ["BringUp", "Settings", "BUSY"]
