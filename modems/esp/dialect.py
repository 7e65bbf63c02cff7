"""The ESP-AT dialect (ESP8266/ESP8285 AT 1.x, ESP-AT 2.x): bring-up, DNS, Wi-Fi, and its notices."""
import asyncio
import errno
import logging
import re
from typing import List, Optional

from atsock.wire import atcmd
from atsock.core import validate
from atsock.wire.channel import Urc
from atsock.constants import AF_INET, AF_INET6
from atsock.core.dialect import Dialect
from atsock.errors import CommandFailed, dns_answer_error, name_error, os_error
from atsock.wire.framing import payload_rule
from atsock.core.lifecycle import SocketState

from modems.settings import make_settings

from .bringup import BringUp, Settings
from .codes import BUSY, FRAME_MAX, READ_TRAILER, T_DNS
from .line import EspLine
from .links import EspLinks
from .passthrough import EspPassthrough

log = logging.getLogger("atsock.esp")

IP_NETWORK = {0: 1, AF_INET: 2, AF_INET6: 3}  # AT+CIPDOMAIN's <ip network> for a wanted family
_LINK_EVENT = re.compile(r"^(\d),(CONNECT|CLOSED|CONNECT FAIL)$")
_IPD = re.compile(r'\+IPD,(\d),(\d{1,9})(?:,"?([^",]*)"?,(\d{1,5}))?$')
_IPD_SINGLE = re.compile(r'\+IPD,(\d{1,9})(?:,"?([^",]*)"?,(\d{1,5}))?$')  # single-connection mode


class EspDialect(Dialect):
    name = "esp8285"
    command_terminator = b"\r\n"
    urc_prefixes = ("WIFI ", "busy ", "+IPD,", "CONNECT", "CLOSED")
    payload_rules = (
        # active receive: +IPD,<id>,<len>[,<ip>,<port>]:<data>  (1.x prints the IP unquoted)
        # (lengths of up to 9 digits are recognised, so that absurd ones are refused, not misread)
        payload_rule(rb'\+IPD,\d,(?P<len>\d{1,9})(?:,"?[0-9A-Fa-f.:]{1,45}"?,\d{1,5})?:', FRAME_MAX),
        payload_rule(rb"\+CIPRECVDATA,(?P<len>\d{1,9}):", FRAME_MAX, trailer=READ_TRAILER),   # 1.x
        # 2.x with the sender (AT+CIPDINFO=1); until its header is complete, the shorter form below
        # (which data beginning with a quote would also fit) waits
        payload_rule(rb'\+CIPRECVDATA:(?P<len>\d{1,9}),"[0-9A-Fa-f.:]{1,45}",\d{1,5},', FRAME_MAX,
                     partial=rb'\+CIPRECVDATA:(?:\d{1,9}(?:,(?:"(?:[0-9A-Fa-f.:]{1,45}(?:"(?:,\d{0,5})?)?)?)?)?)?',
                     trailer=READ_TRAILER),
        payload_rule(rb"\+CIPRECVDATA:(?P<len>\d{1,9}),", FRAME_MAX, trailer=READ_TRAILER),   # 2.x, no CIPDINFO
        # single-connection mode, after passthrough: +IPD,<len>[,<ip>,<port>]:<data>
        payload_rule(rb'\+IPD,(?P<len>\d{1,9})(?:,"?[0-9A-Fa-f.:]{1,45}"?,\d{1,5})?:', FRAME_MAX),
    )
    probe = (atcmd.query("AT+CIPMUX"), "+CIPMUX:")
    line_commands = EspLine()
    state_words = {"registering": "joining Wi-Fi"}
    not_online_hint = (": join a Wi-Fi network first, with network.ESP8285(...).connect(ssid, key) "
                       "or open_modem(..., ssid=..., key=...)")

    def __init__(self, engine, life, **settings):
        super().__init__(engine, life)
        self.settings = make_settings(Settings, self.name, settings)
        self.ssid: Optional[str] = None
        self.mac: Optional[str] = None
        self.server = None  # the connection listening, while the module's server runs
        self._bring_up = BringUp(self, self.settings)
        self.commands = EspLinks(self)
        self.commands.data_mode = EspPassthrough(self, self.settings.escape_guard, self.settings.escape_settle)
        engine.on_protocol_error(self._on_protocol_error)
        engine.on_urc("+IPD,", self._on_ipd)
        engine.on_urc_pattern(_LINK_EVENT, self._on_link_event)
        engine.on_urc("ready", self._on_ready)
        engine.on_urc("WIFI ", self._on_wifi)
        engine.on_urc("busy ", lambda urc: log.info("module busy: %s", urc.text))

    async def command(self, text, *, timeout: float, retries: int = 10, **kwargs):
        """An engine command that is offered again while the module answers ``busy p...``."""
        extra = frozenset(kwargs.pop("extra_finals", frozenset())) | BUSY
        check = kwargs.pop("check", True)
        for attempt in range(retries):
            response = await self.engine.command(text, timeout=timeout, extra_finals=extra, check=False, **kwargs)
            if response.final.text not in BUSY:
                break
            await asyncio.sleep(0.1 * (attempt + 1))
        if check and not response.final.ok:
            raise CommandFailed(text, response.final.text)
        return response

    @property
    def firmware_major(self) -> int:
        return self._bring_up.major

    def cur_name(self, command: str) -> str:
        """The command's name on this firmware (``_CUR`` on 1.x)."""
        return self._bring_up.cur(command)

    async def bring_up(self) -> None:
        await self._bring_up.run(self.life)

    async def join(self, ssid: str, key: str) -> None:
        await self._bring_up.join(self.life, ssid, key)
        self.settings.ssid, self.settings.key = ssid, key  # a recovery joins this network again

    async def leave(self) -> None:
        self.settings.ssid = None
        self.core.reset(errno.ENETDOWN, "left the Wi-Fi network")
        self.forget_connections()
        await self._bring_up.leave(self.life)  # the WIFI DISCONNECT that follows is ours, not trouble

    def forget_connections(self) -> None:
        self.server = None
        self.commands.server_open = False
        self.commands.connect_seen.clear()
        self.commands.tls.forget()

    async def ifconfig(self):
        """(ip, netmask, gateway, dns_server, dhcp_server, mac, ssid), "0" where unknown (MaixPy's shape)."""
        if not self.online:
            return ("0",) * 7
        name = self._bring_up.cur("AT+CIPSTA")
        response = await self.command(atcmd.query(name), timeout=2.0, response_prefixes=("+CIPSTA",), check=False)
        found = {}
        for line in response.lines:
            key, _, value = line.text.partition(":")[2].partition(":")
            found[key] = value.strip('"')
        return (found.get("ip", self.local_ip or "0"), found.get("netmask", "0"), found.get("gateway", "0"),
                "0", "0", self.mac or "0", self.ssid or "0")

    def family_refusal(self, family: int) -> Optional[str]:
        return self._bring_up.ipv6_refusal if family == AF_INET6 else super().family_refusal(family)

    async def resolve(self, host: str, family: int = 0) -> List[str]:
        host = validate.hostname(host)
        params = [atcmd.text(host, "host name", 253)]
        if self.family_refusal(AF_INET6) is None:  # <ip network> (2.2+): 1 IPv4 first, 2 IPv4 only, 3 IPv6 only
            params.append(atcmd.number(IP_NETWORK[family], 1, 3, "ip network"))
        response = await self.command(atcmd.build("AT+CIPDOMAIN", *params),
                                      timeout=T_DNS, response_prefixes=("+CIPDOMAIN:",), check=False)
        values = response.values("+CIPDOMAIN:")
        if not response.final.ok:
            raise name_error(host)
        address = validate.ip_literal(values[0].strip('"')) if values else None
        if address is None:
            raise dns_answer_error(repr(values[0]) if values else "OK without +CIPDOMAIN")
        return [address]

    # --- URCs -----------------------------------------------------------------------------------
    def _on_ipd(self, urc: Urc) -> None:
        match = _IPD.match(urc.text)
        if match is None:
            self._on_single_ipd(urc)
            return
        slot_id = int(match.group(1))
        if urc.data is None:
            self.core.data_waiting(slot_id)  # passive mode: the module holds the data until fetched
        else:
            sender = (match.group(3), int(match.group(4))) if match.group(3) is not None else None
            self.core.data_pushed(slot_id, urc.data, sender)

    def _on_single_ipd(self, urc: Urc) -> None:
        """Data in single-connection mode, which only passthrough's end uses: pushed data is the
        passthrough link's; a notice (passive receive) is read by the passthrough's own leaving."""
        if _IPD_SINGLE.match(urc.text) is None:
            log.warning("malformed +IPD header %r", urc.text)
        elif urc.data is not None:
            self.commands.data_mode.pushed(urc.data)

    def _on_protocol_error(self, reason: str, header: Optional[str]) -> None:
        """A refused +IPD header names the link whose data is now lost: that socket fails."""
        match = _IPD.match(header or "")
        if match is not None:
            self.core.connection_failed(int(match.group(1)),
                                        os_error(errno.EPROTO, f"received data lost to a protocol error: {reason}"))

    def _on_link_event(self, urc: Urc) -> None:
        match = _LINK_EVENT.match(urc.text)
        slot_id, event = int(match.group(1)), match.group(2)
        opening = self.core.slots.owner(slot_id)
        opening = opening if opening is not None and opening.state is SocketState.OPENING else None
        if event == "CONNECT":
            if opening is not None:
                self.commands.connect_seen.add(slot_id)  # our own AT+CIPSTART, answered before its OK
            elif self.core.slots.owner(slot_id) is None:
                self.core.incoming(slot_id, self.server, None)
            return
        if opening is not None and slot_id not in self.commands.connect_seen:
            # a CLOSED before this attempt's CONNECT belongs to an earlier one (a refused connect
            # reports it after its ERROR): it must not end the new connection
            log.debug("stale %r ignored", urc.text)
            return
        self.commands.tls.secure.discard(slot_id)
        self.core.module_closed(slot_id, released=True)

    def _on_ready(self, urc: Urc) -> None:
        if self._bring_up.on_ready() or not self.online:
            return
        self.report_trouble("reboot", errno.ECONNRESET, "the module restarted (ready): its links are gone", False)

    def _on_wifi(self, urc: Urc) -> None:
        log.info("Wi-Fi: %s", urc.text)
        if urc.text == "WIFI DISCONNECT" and self.online:
            self.report_trouble("context_lost", errno.ENETDOWN, "Wi-Fi connection lost", False)
