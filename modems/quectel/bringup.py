"""Bring a Quectel module from power-on to an active data context, as the process notes order it:
sync, configure, SIM, registration, APN and context activation, then stale sockets closed."""
import errno
import logging
from dataclasses import dataclass
from typing import Callable, List, Optional, Tuple

from atsock.wire import atcmd
from atsock.core import registration, startup, validate
from atsock.errors import CommandFailed, DataContextError, ModemError, docs_link
from atsock.wire.fields import parse_int, split_fields
from atsock.core.lifecycle import ModemLifecycle
from atsock.wire.linerate import Line

from ..settings import check_seconds, check_timeouts
from . import cause
from .codes import MAX_LINKS, T_QIACT, T_QICLOSE, T_QIDEACT, T_QUERY, TEXT
from .network import RegistrationWait
from .sim import SimUnlock

log = logging.getLogger("atsock.quectel")

AUTH_METHODS = {"none": 0, "pap": 1, "chap": 2}
CONTEXT_TYPES = {"ipv4": 1, "ipv6": 2, "ipv4v6": 3}  # AT+QICSGP <context_type>


@dataclass
class Settings:
    """Everything ``open_modem(..., dialect="quectel", **settings)`` accepts, checked up front."""

    apn: str = ""
    user: str = ""
    password: str = ""
    auth: Optional[str] = None
    context_id: int = 1
    ip_version: str = "ipv4"  # the context's type: "ipv4", "ipv6" or "ipv4v6" (dual stack)
    pin: Optional[str] = None
    registration_timeout: float = 90.0
    registration_poll: float = 1.0
    sync_timeout: float = 10.0
    timeouts: Optional[dict] = None  # "open", "send", "read", "close": seconds instead of the notes'
    escape_guard: float = 1.0  # data mode: the silence the module needs around "+++" (quectel-tcpip.md §12)
    cmux: bool = False  # the line as a TS 27.010 multiplexer (cmux.py): data mode on several sockets at once

    def __post_init__(self):
        self.timeouts = check_timeouts(self.timeouts, ("open", "send", "read", "close"))
        check_seconds(self.escape_guard, "escape_guard")
        if not isinstance(self.cmux, bool):
            raise TypeError(f"cmux is True or False, not {self.cmux!r}")
        atcmd.text(self.apn, "APN", 62)
        atcmd.text(self.user, "user name", 64)
        atcmd.text(self.password, "password", 64)
        self.auth = self.auth or ("pap" if self.user or self.password else "none")
        if self.auth not in AUTH_METHODS:
            raise ValueError(f"auth must be one of {', '.join(AUTH_METHODS)}, not {self.auth!r}")
        if isinstance(self.context_id, bool) or not isinstance(self.context_id, int) or not 1 <= self.context_id <= 16:
            raise ValueError("context_id must be an int in 1..16")
        if self.ip_version not in CONTEXT_TYPES:
            raise ValueError(f"ip_version must be one of {', '.join(CONTEXT_TYPES)}, not {self.ip_version!r}")
        if self.pin is not None and not (isinstance(self.pin, str) and self.pin.isdigit() and 4 <= len(self.pin) <= 8):
            raise ValueError("pin must be 4 to 8 digits")


def context_addresses(fields: List[str]) -> Tuple[Optional[str], Optional[str]]:
    """(IPv4, IPv6) from the address fields of a ``+QIACT:`` line, each told by its form, not its
    place (a dual-stack context the network granted one family shows one address)."""
    v4 = v6 = None
    for text in fields:
        address = validate.ip_literal(text)
        if address is None:
            log.warning("data context address %r is not an IP address", text)
        elif ":" in address:
            v6 = v6 or address
        else:
            v4 = v4 or address
    return v4, v6


class BringUp:
    def __init__(self, engine, settings: Settings, is_ours: Callable[[int], bool], mux=None):
        self.engine = engine
        self.settings = settings
        self.mux = mux  # a QuectelMux with cmux=True: the line is multiplexed before anything else
        self._is_ours = is_ours  # connectIDs this process holds (the rest were left by an earlier one)
        self.local_ip: Optional[str] = None
        self.local_ipv6: Optional[str] = None
        self.context_type = CONTEXT_TYPES[settings.ip_version]  # 1 once the module refused dual stack
        self.deactivate_first = False  # after "pdpdeact": AT+QIDEACT before AT+QIACT
        self.sim = SimUnlock(engine, settings.pin)  # (one per modem: a refused PIN is never offered again)
        self.network = RegistrationWait(engine, settings.registration_timeout, settings.registration_poll)
        self.registration: Optional[str] = None  # the registration in words, once registered
        self.progress: Callable[[str], None] = lambda text: None  # what bring-up is waiting for

    async def run(self, life: ModemLifecycle, line: Optional[Line] = None) -> None:
        e, s = self.engine, self.settings
        if self.mux is not None:
            await self.mux.enter(lambda: startup.sync(e, s.sync_timeout, line))
        await startup.sync(e, s.sync_timeout, line)
        life.synced()
        await e.command(atcmd.build("ATE0"), timeout=T_QUERY)
        if line is not None:
            await line.settle()  # the rate and flow control asked for (AT+IPR, AT+IFC, AT&W)
        await e.command(atcmd.build("AT+CMEE", atcmd.number(1, 0, 2)), timeout=T_QUERY)
        # no payload echo; older firmware lacks the command
        await e.command(atcmd.build("AT+QISDE", atcmd.number(0, 0, 1)), timeout=T_QUERY, check=False)
        for report in ("AT+CREG", "AT+CGREG", "AT+CEREG"):  # registration changes as URCs
            await e.command(atcmd.build(report, atcmd.number(1, 0, 2)), timeout=T_QUERY, check=False)
        life.configured()
        await self.sim.wait_until_ready(self.progress)
        life.sim_ready()
        stat = await self.network.run(self.progress)
        self.registration = registration.words(stat)
        log.info("network: %s", self.registration)
        life.registered()
        await self._activate_context()
        await self._close_stale_links()
        life.activated()

    async def _activate_context(self) -> None:
        e, s = self.engine, self.settings
        ctx = atcmd.number(s.context_id, 1, 16, "context id")
        try:
            await e.command(self._define_context(self.context_type), timeout=T_QUERY)
        except CommandFailed:
            if self.context_type != CONTEXT_TYPES["ipv4v6"]:
                raise
            # the BG96 manual V1.0 knows types 1 and 2 only; newer firmware takes 3 (ipv6.md §1.1)
            log.warning("the module refuses IPv4v6 contexts (AT+QICSGP type 3): context %d is IPv4 only", s.context_id)
            self.context_type = CONTEXT_TYPES["ipv4"]
            await e.command(self._define_context(self.context_type), timeout=T_QUERY)
        if self.deactivate_first:
            await e.command(atcmd.build("AT+QIDEACT", ctx), timeout=T_QIDEACT, check=False)
            self.deactivate_first = False
        if not await self._context_active():
            response = await e.command(atcmd.build("AT+QIACT", ctx), timeout=T_QIACT, check=False)
            if not response.final.ok:
                raise await self._refused_context(response.final)
            if not await self._context_active():
                raise ModemError(errno.ENETUNREACH, f"data context {s.context_id} not active after AT+QIACT")

    async def _refused_context(self, final) -> DataContextError:
        """AT+QIACT failed: the APN and the module's own code (AT+QIGETERROR keeps it) say why."""
        s = self.settings
        code = await cause.module_code(self.engine, final)
        said = f"module error {code}: {TEXT.get(code, 'unknown')}" if code else final.text
        return DataContextError(errno.ENETUNREACH, f"the network refused data context {s.context_id} with APN "
                                                   f"{s.apn!r} ({said})",
                                advice="give the operator's APN with {setting} (and user, password, auth where it "
                                       "asks for them)", setting="apn",
                                docs=docs_link("troubleshooting", "pdp-activation"), apn=s.apn, modem_code=code)

    def _define_context(self, context_type: int) -> atcmd.CommandLine:
        s = self.settings
        return atcmd.build("AT+QICSGP", atcmd.number(s.context_id, 1, 16, "context id"),
                           atcmd.number(context_type, 1, 3, "context type"), atcmd.text(s.apn, "APN", 62),
                           atcmd.text(s.user, "user name", 64), atcmd.text(s.password, "password", 64),
                           atcmd.number(AUTH_METHODS[s.auth], 0, 3))

    async def _context_active(self) -> bool:
        """Whether the context is active, keeping the addresses ``AT+QIACT?`` shows for it."""
        response = await self.engine.command(atcmd.query("AT+QIACT"), timeout=T_QUERY, response_prefixes=("+QIACT:",))
        for value in response.values("+QIACT:"):
            fields = split_fields(value)
            if len(fields) >= 2 and parse_int(fields[0], 0, 16) == self.settings.context_id and fields[1] == "1":
                self.local_ip, self.local_ipv6 = context_addresses(fields[3:])
                return True
        return False

    async def _close_stale_links(self) -> None:
        """Sockets an earlier host process left open would hold connectIDs forever."""
        response = await self.engine.command(atcmd.query("AT+QISTATE"), timeout=T_QUERY,
                                             response_prefixes=("+QISTATE:",))
        for value in response.values("+QISTATE:"):
            link_id = parse_int(split_fields(value)[0], 0, MAX_LINKS - 1)
            if link_id is not None and not self._is_ours(link_id):
                log.info("closing connectID %d left open by an earlier session", link_id)
                await self.engine.command(atcmd.build("AT+QICLOSE", atcmd.number(link_id, 0, MAX_LINKS - 1)),
                                          timeout=T_QICLOSE, check=False)
