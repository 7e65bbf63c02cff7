"""The ESP-AT dialect (ESP8266/ESP8285 AT 1.x, ESP-AT 2.x) as the socket layer sees it."""
import asyncio
import errno
import logging
import re
from typing import List, Optional

from atsock import validate
from atsock.channel import Urc
from atsock.errors import CommandFailed, name_error
from atsock.framing import payload_rule
from atsock.lifecycle import ModemLifecycle
from atsock.link import Link

from ..base import Dialect
from .bringup import BringUp, Settings
from .codes import BUSY, FRAME_MAX, MAX_LINKS, T_DNS
from .links import Links

log = logging.getLogger("atsock.esp")

_LINK_EVENT = re.compile(r"^(\d),(CONNECT|CLOSED|CONNECT FAIL)$")


class EspDialect(Dialect):
    name = "esp8285"
    max_links = MAX_LINKS
    command_terminator = b"\r\n"
    urc_prefixes = ("WIFI ", "busy ", "+IPD,", "CONNECT", "CLOSED")
    payload_rules = (
        # active receive: +IPD,<id>,<len>[,<ip>,<port>]:<data>  (1.x prints the IP unquoted)
        # (lengths of up to 9 digits are recognised, so that absurd ones are refused, not misread)
        payload_rule(rb'\+IPD,\d,(?P<len>\d{1,9})(?:,"?[0-9A-Fa-f.:]{1,45}"?,\d{1,5})?:', FRAME_MAX),
        payload_rule(rb"\+CIPRECVDATA,(?P<len>\d{1,9}):", FRAME_MAX),                         # 1.x
        payload_rule(rb'\+CIPRECVDATA:(?P<len>\d{1,9}),"[0-9A-Fa-f.:]{1,45}",\d{1,5},', FRAME_MAX),  # 2.x
        payload_rule(rb"\+CIPRECVDATA:(?P<len>\d{1,9}),", FRAME_MAX),                         # 2.x, no CIPDINFO
    )

    def __init__(self, engine, **settings):
        super().__init__(engine)
        self.settings = Settings(**settings)
        self.max_datagram = self.settings.send_max
        self.life: Optional[ModemLifecycle] = None
        self.ssid: Optional[str] = None
        self.mac: Optional[str] = None
        self._bring_up = BringUp(self, self.settings)
        self.links = Links(self)
        engine.probe_command = ("AT+CIPMUX?", "+CIPMUX:")
        engine.on_protocol_error(self.links.on_protocol_error)
        engine.on_urc("+IPD,", lambda urc: self.links.on_ipd(urc.text, urc.data))
        engine.on_urc_pattern(_LINK_EVENT, self._on_link_event)
        engine.on_urc("ready", self._on_ready)
        engine.on_urc("WIFI ", self._on_wifi)
        engine.on_urc("busy ", lambda urc: log.info("module busy: %s", urc.text))

    async def command(self, text: str, *, timeout: float, retries: int = 10, **kwargs):
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

    async def bring_up(self, life: ModemLifecycle) -> None:
        self.life = life
        await self._bring_up.run(life)
        self.online = life.state == "online"

    async def join(self, ssid: str, key: str) -> None:
        await self._bring_up.join(self.life, ssid, key)
        self.settings.ssid, self.settings.key = ssid, key  # a recovery joins this network again
        self.online = True

    async def leave(self) -> None:
        self.online = False  # a WIFI DISCONNECT now is ours, not trouble
        self.settings.ssid = None
        self.fail_all(errno.ENETDOWN, "left the Wi-Fi network")
        await self._bring_up.leave(self.life)

    def forget_links(self) -> None:
        self.links.server = None
        self.links._closed_while_opening.clear()

    async def ifconfig(self):
        """(ip, netmask, gateway, dns_server, dhcp_server, mac, ssid), "0" where unknown (MaixPy's shape)."""
        if not self.online:
            return ("0",) * 7
        name = self._bring_up.cur("AT+CIPSTA")
        response = await self.command(name + "?", timeout=2.0, response_prefixes=("+CIPSTA",), check=False)
        found = {}
        for line in response.lines:
            key, _, value = line.text.partition(":")[2].partition(":")
            found[key] = value.strip('"')
        return (found.get("ip", self.local_ip or "0"), found.get("netmask", "0"), found.get("gateway", "0"),
                "0", "0", self.mac or "0", self.ssid or "0")

    async def resolve(self, host: str) -> List[str]:
        host = validate.hostname(host)
        response = await self.command(f'AT+CIPDOMAIN="{host}"', timeout=T_DNS, response_prefixes=("+CIPDOMAIN:",),
                                      check=False)
        values = response.values("+CIPDOMAIN:")
        address = validate.ip_literal(values[0].strip('"')) if response.final.ok and values else None
        if address is None:
            raise name_error(host)
        return [address]

    async def connect(self, link: Link, ip: str, port: int, timeout: Optional[float], local_port: int = 0) -> None:
        await self.links.connect(link, ip, port, timeout, local_port)

    async def listen(self, link: Link, local_port: int, backlog: int) -> None:
        await self.links.listen(link, local_port, backlog)

    async def open_udp(self, link: Link, local_port: int, peer=None) -> None:
        await self.links.open_udp(link, local_port, peer)

    async def send(self, link: Link, data: bytes, timeout: Optional[float]) -> int:
        return await self.links.send(link, data, timeout)

    async def sendto(self, link: Link, data: bytes, ip: str, port: int, timeout: Optional[float]) -> int:
        return await self.links.sendto(link, data, ip, port, timeout)

    async def close_link(self, link: Link) -> None:
        await self.links.close_link(link)

    async def shut_down(self) -> None:
        if self.links.server is not None:
            await self.links.close_link(self.links.server)
        await super().shut_down()

    # --- URCs -----------------------------------------------------------------------------------
    def _on_link_event(self, urc: Urc) -> None:
        match = _LINK_EVENT.match(urc.text)
        link_id, event = int(match.group(1)), match.group(2)
        if event == "CONNECT":
            self.links.on_connect(link_id)
        else:
            self.links.on_closed(link_id)

    def _on_ready(self, urc: Urc) -> None:
        if self._bring_up.on_ready() or not self.online:
            return
        self.trouble("reboot", errno.ECONNRESET, "the module restarted (ready): its links are gone")

    def _on_wifi(self, urc: Urc) -> None:
        log.info("Wi-Fi: %s", urc.text)
        if urc.text == "WIFI DISCONNECT" and self.online:
            self.trouble("context_lost", errno.ENETDOWN, "Wi-Fi connection lost")

