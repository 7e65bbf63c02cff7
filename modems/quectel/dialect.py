"""The Quectel dialect as the socket layer sees it: bring-up, DNS, sockets, and URC routing."""
import errno
import logging
from typing import List, Optional

from atsock.channel import Urc
from atsock.framing import payload_rule
from atsock.lifecycle import ModemLifecycle
from atsock.link import Link

from ..base import Dialect, parse_int, split_fields
from .bringup import REGISTERED, BringUp, Settings
from .codes import MAX_LINKS, QIRD_MAX, QISEND_MAX
from .dns import Resolver
from .sockets import Sockets

log = logging.getLogger("atsock.quectel")


class QuectelDialect(Dialect):
    name = "quectel"
    max_links = MAX_LINKS
    max_datagram = QISEND_MAX
    urc_prefixes = ("APP RDY", "+CFUN:", "+CPIN:", "+QUSIM:", "+QIND:", "POWERED DOWN")
    payload_rules = (
        payload_rule(rb"\+QIRD: (?P<len>\d{1,9})\r\n", QIRD_MAX),
        payload_rule(rb'\+QIRD: (?P<len>\d{1,9}),"[^"\r\n]{0,64}",\d{1,5}\r\n', QIRD_MAX),  # UDP SERVICE
    )

    def __init__(self, engine, **settings):
        super().__init__(engine)
        self.settings = Settings(**settings)  # TypeError/ValueError before the port is touched
        self._bring_up = BringUp(engine, self.settings)
        self._resolver = Resolver(engine, self.settings.context_id)
        self.sockets = Sockets(self, self.settings.context_id, self.settings.timeouts)
        engine.probe_command = ("AT+CMEE?", "+CMEE:")
        engine.on_urc("+QIOPEN:", lambda urc: self.sockets.on_qiopen(urc.text))
        engine.on_urc("+QIURC:", self._on_qiurc)
        engine.on_urc("RDY", self._on_reboot)
        for prefix in ("+CREG:", "+CGREG:", "+CEREG:"):
            engine.on_urc(prefix, self._on_registration)
        for prefix in self.urc_prefixes:
            engine.on_urc(prefix, lambda urc: log.info("modem status: %s", urc.text))

    async def bring_up(self, life: ModemLifecycle) -> None:
        await self._bring_up.run(life)
        self.local_ip = self._bring_up.local_ip
        self.online = True

    async def resolve(self, host: str) -> List[str]:
        return await self._resolver.resolve(host)

    async def connect(self, link: Link, ip: str, port: int, timeout: Optional[float], local_port: int = 0) -> None:
        await self.sockets.connect(link, ip, port, timeout, local_port)

    async def listen(self, link: Link, local_port: int, backlog: int) -> None:
        await self.sockets.listen(link, local_port, backlog)

    async def open_udp(self, link: Link, local_port: int, peer=None) -> None:
        await self.sockets.open_udp(link, local_port)

    async def send(self, link: Link, data: bytes, timeout: Optional[float]) -> int:
        return await self.sockets.send(link, data, timeout)

    async def sendto(self, link: Link, data: bytes, ip: str, port: int, timeout: Optional[float]) -> int:
        return await self.sockets.sendto(link, data, ip, port, timeout)

    async def close_link(self, link: Link) -> None:
        await self.sockets.close_link(link)

    # --- URCs -----------------------------------------------------------------------------------
    def _on_qiurc(self, urc: Urc) -> None:
        fields = split_fields(urc.text[len("+QIURC:"):])
        kind = fields[0]
        if kind == "recv":
            self.sockets.on_data(fields, peer_finished=False)
        elif kind == "closed":
            self.sockets.on_data(fields, peer_finished=True)
        elif kind == "incoming":
            self.sockets.on_incoming(fields)
        elif kind == "incoming full":
            self.sockets.on_incoming_full()
        elif kind == "dnsgip":
            self._resolver.on_dnsgip(fields)
        elif kind == "pdpdeact":
            if self.online:
                self._bring_up.deactivate_first = True  # the notes: AT+QIDEACT before activating again
                self.trouble("context_lost", errno.ENETDOWN, "the network deactivated the data context")
        else:
            log.info("unhandled %r", urc.text)

    def _on_reboot(self, urc: Urc) -> None:
        if self.online:
            self.trouble("reboot", errno.ECONNRESET, "the modem restarted (RDY): its sockets are gone")

    def _on_registration(self, urc: Urc) -> None:
        """Unsolicited ``+CEREG: <stat>``: losing the network suspends the modem; sockets stay, as
        a short loss need not end a TCP connection."""
        fields = split_fields(urc.text.partition(":")[2])
        stat = parse_int(fields[0], 0, 10)
        log.info("registration: %s", urc.text)
        if self.online and stat is not None and stat not in REGISTERED:
            self.trouble("registration_lost", errno.ENETDOWN, f"network registration lost ({urc.text})",
                         keep_links=True)
