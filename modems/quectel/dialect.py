"""The Quectel dialect: bring-up, DNS, and what its URCs tell the socket core."""
import errno
import logging
from typing import List, Optional

from atsock.wire import atcmd
from atsock.wire.channel import Urc
from atsock.constants import AF_INET, AF_INET6
from atsock.wire.fields import parse_int, split_fields
from atsock.wire.framing import payload_rule
from atsock.core.dialect import Dialect
from modems.settings import make_settings

from atsock.core import registration

from .bringup import CONTEXT_TYPES, BringUp, Settings
from .cmux import QuectelMux
from .codes import MAX_LINKS, QIRD_MAX, READ_TRAILER
from .dns import Resolver
from .line import QuectelLine
from .sockets import QuectelSockets, conn_id, incoming_notice
from .transparent import QuectelTransparent

log = logging.getLogger("atsock.quectel")


class QuectelDialect(Dialect):
    name = "quectel"
    urc_prefixes = ("APP RDY", "+CFUN:", "+CPIN:", "+QUSIM:", "+QIND:", "POWERED DOWN")
    payload_rules = (
        payload_rule(rb"\+QIRD: (?P<len>\d{1,9})\r\n", QIRD_MAX, trailer=READ_TRAILER),
        payload_rule(rb'\+QIRD: (?P<len>\d{1,9}),"[^"\r\n]{0,64}",\d{1,5}\r\n', QIRD_MAX,  # UDP SERVICE
                     trailer=READ_TRAILER),
    )
    probe = (atcmd.query("AT+CMEE"), "+CMEE:")
    line_commands = QuectelLine()

    def __init__(self, engine, life, **settings):
        super().__init__(engine, life)
        self.settings = make_settings(Settings, self.name, settings)  # TypeError/ValueError before the port is touched
        self.commands = QuectelSockets(engine, self.settings.context_id, self.settings.timeouts)
        self.commands.data_mode = QuectelTransparent(conn_id, self.settings.escape_guard)
        self.mux = QuectelMux(engine, self.probe) if self.settings.cmux else None
        if self.mux is not None:
            self.line, self.data_lines = self.mux.line, self.mux.channels
        self._bring_up = BringUp(engine, self.settings, lambda slot_id: self.core.slots.holder(slot_id) is not None,
                                 self.mux)
        self._resolver = Resolver(engine, self.settings.context_id)
        self._domains = {}  # registration query prefix -> its last <stat>, from bring-up and URCs
        engine.on_urc("+QIOPEN:", lambda urc: self.commands.on_qiopen(urc.text))
        self.commands.tls.attach(engine, lambda: self.core)  # AT+QSSL*: the module's own TLS
        engine.on_urc("+QIURC:", self._on_qiurc)
        engine.on_urc("RDY", self._on_reboot)
        for prefix in ("+CREG:", "+CGREG:", "+CEREG:"):
            engine.on_urc(prefix, self._on_registration)
        for prefix in self.urc_prefixes:
            engine.on_urc(prefix, lambda urc: log.info("modem status: %s", urc.text))

    async def bring_up(self) -> None:
        self._bring_up.progress = self.report_progress
        await self._bring_up.run(self.life, self.serial_line)
        self.local_ip, self.local_ipv6 = self._bring_up.local_ip, self._bring_up.local_ipv6
        self.registration = self._bring_up.registration
        self._domains = dict(self._bring_up.network.stats)

    def family_refusal(self, family: int) -> Optional[str]:
        context_type, ctx = self._bring_up.context_type, self.settings.context_id
        if family == AF_INET6:
            if self.local_ipv6 is not None:
                return None
            if self.settings.ip_version == "ipv4":
                return f'data context {ctx} is IPv4: open the modem with ip_version="ipv4v6" (or "ipv6") for IPv6'
            if context_type == CONTEXT_TYPES["ipv4"]:
                return f"the module refused an IPv4v6 data context (AT+QICSGP type 3): context {ctx} is IPv4 only"
            return f"the network gave data context {ctx} no IPv6 address"
        if family == AF_INET and context_type == CONTEXT_TYPES["ipv6"]:
            return f'data context {ctx} is IPv6 only (ip_version="ipv6"): use AF_INET6, or ip_version="ipv4v6"'
        return super().family_refusal(family)

    async def resolve(self, host: str, family: int = 0) -> List[str]:
        return await self._resolver.resolve(host)  # the module picks the record types (ipv6.md §1.6)

    async def shut_down(self) -> None:
        if self.mux is not None:
            await self.mux.leave()  # the module back in plain AT mode for whoever opens it next

    def forget_connections(self) -> None:
        self.commands.tls.forget()

    @property
    def incoming_refused(self) -> int:
        return self.commands.incoming_refused

    # --- URCs -----------------------------------------------------------------------------------
    def _on_qiurc(self, urc: Urc) -> None:
        fields = split_fields(urc.text[len("+QIURC:"):])
        kind = fields[0]
        slot_id = parse_int(fields[1], 0, MAX_LINKS - 1) if len(fields) > 1 else None
        if kind in ("recv", "closed"):
            self.core.data_waiting(slot_id, peer_finished=kind == "closed")
        elif kind == "incoming":
            notice = incoming_notice(fields)
            if notice is None:
                log.warning("malformed incoming notice %r", urc.text)
                return
            new_id, listener_id, remote = notice
            self.core.incoming(new_id, self.core.slots.owner(listener_id), remote)
        elif kind == "incoming full":
            self.commands.incoming_refused += 1
            log.warning("the module turned a client away: every connectID is in use (incoming full)")
        elif kind == "dnsgip":
            self._resolver.on_dnsgip(fields)
        elif kind == "pdpdeact":
            if self.online:
                self._bring_up.deactivate_first = True  # the notes: AT+QIDEACT before activating again
                self.report_trouble("context_lost", errno.ENETDOWN, "the network deactivated the data context", False)
        else:
            log.info("unhandled %r", urc.text)

    def _on_reboot(self, urc: Urc) -> None:
        if self.online:
            self.report_trouble("reboot", errno.ECONNRESET, "the modem restarted (RDY): its sockets are gone", False)

    def _on_registration(self, urc: Urc) -> None:
        """Unsolicited ``+CEREG: <stat>``: losing the network suspends the modem; sockets stay, as
        a short loss need not end a TCP connection."""
        fields = split_fields(urc.text.partition(":")[2])
        self._domains[urc.text.partition(":")[0]] = stat = parse_int(fields[0], 0, 255)
        log.info("registration: %s (%s)", registration.words(stat), urc.text)
        best = registration.best(self._domains)
        if best in registration.REGISTERED:  # (one domain may drop while another holds: an LTE-M CREG says 0)
            self.registration = registration.words(best)
        elif self.online and stat is not None:
            self.report_trouble("registration_lost", errno.ENETDOWN,
                                f"network registration lost: {registration.summary(self._domains)}", True)
