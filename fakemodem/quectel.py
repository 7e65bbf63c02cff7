"""An emulated Quectel BG96-class module: the "QI" TCP/IP command set, per the application notes.

Written from ``shared/at-reference/quectel-tcpip.md`` only. Where that reference marks a behaviour
unconfirmed, it is an option here (defaults in parentheses):

* ``qiclose_unknown`` ("OK"): answer to AT+QICLOSE on an id that is not open ("OK" or "ERROR");
* ``connected_state`` (2): <socket_state> reported for a connected client (2 or 3);
* ``prompt`` (b"\\r\\n> "): the data prompt bytes;
* ``dnsgip_failure_fields`` (1): 1 -> ``"dnsgip",565``; 3 -> ``"dnsgip",565,0,0``;
* ``ip_error_style`` ("ERROR"): TCP/IP failures as ERROR, or "CME" for ``+CME ERROR: 5xx``;
* ``payload_echo`` ("both"): QISEND payload echoed when ATE *and* QISDE are on ("both"), on
  QISDE alone ("qisde"), or never ("never");
* ``recv_with_length`` (False): power-on value of AT+QICFG="recvind".

Other options: ``hosts`` (name -> address or list of addresses), ``blackhole`` (addresses that
never answer a connect), ``allow_outside`` (False: non-loopback addresses are blackholed so the
emulator never sends traffic off this machine), ``boot_delay``, ``boot_urcs``, ``echo``,
``registration_delay``, ``sim``, ``local_ip``, ``rx_buffer``/``tx_buffer`` (per-socket module
buffers), ``open_timeout``, ``dns_delay``, ``qiact_delay``, ``latency`` (seconds before each
command's answer), ``identity`` (identification and status values, see ``fakemodem/identity.py``).
"""
import asyncio
import logging
from dataclasses import dataclass
from typing import Dict, Optional

from .atcommand import ATCommand
from .core import SerialSide
from .faults import Faults
from .identity import QuectelIdentity
from .module import EmulatedModule
from .network import Network
from .quectel_sockets import SocketServices

log = logging.getLogger("fakemodem.quectel")


@dataclass
class Context:
    apn: str = ""
    user: str = ""
    password: str = ""
    auth: int = 0
    active: bool = False


class QuectelModule(EmulatedModule):
    def __init__(self, serial: SerialSide, *, hosts: Optional[Dict[str, object]] = None, blackhole=(),
                 allow_outside: bool = False, boot_delay: float = 0.05,
                 boot_urcs=("RDY", "+CFUN: 1", "+CPIN: READY", "+QUSIM: 1", "+QIND: SMS DONE"),
                 echo: bool = True, registration_delay: float = 0.0, sim: str = "READY",
                 local_ip: str = "10.64.12.7", qiclose_unknown: str = "OK", connected_state: int = 2,
                 prompt: bytes = b"\r\n> ", dnsgip_failure_fields: int = 1, ip_error_style: str = "ERROR",
                 payload_echo: str = "both", recv_with_length: bool = False, rx_buffer: int = 65536,
                 tx_buffer: int = 65536, open_timeout: float = 75.0, dns_delay: float = 0.0,
                 qiact_delay: float = 0.0, latency: float = 0.0, faults: Optional[Faults] = None,
                 identity: Optional[dict] = None):
        super().__init__(serial, faults if faults is not None else Faults(), boot_delay=boot_delay, echo=echo,
                         latency=latency)
        self.network = Network(hosts, blackhole, allow_outside)
        self.boot_urcs = tuple(boot_urcs)
        self.registration_delay = registration_delay
        self.sim = sim
        self.local_ip = local_ip
        self.qiclose_unknown = qiclose_unknown
        self.connected_state = connected_state
        self.prompt = prompt
        self.dnsgip_failure_fields = dnsgip_failure_fields
        self.ip_error_style = ip_error_style
        self.payload_echo = payload_echo
        self.recvind = recv_with_length
        self.rx_buffer = self.faults.buffer(rx_buffer)
        self.tx_buffer = self.faults.buffer(tx_buffer)
        self.open_timeout = open_timeout
        self.dns_delay = dns_delay
        self.qiact_delay = qiact_delay
        self.cmee = 0
        self.qisde = True
        self.last_error = 0
        self.contexts: Dict[int, Context] = {}
        self.services = SocketServices(self)
        self._tasks: set = set()
        self._booted_at = 0.0
        self._power_on_echo = echo
        self._reports = {"+CREG": 0, "+CGREG": 0, "+CEREG": 0}  # n of AT+CxREG=<n>
        self._deregistered_until = 0.0
        self.corrupt: Optional[str] = None  # FakeModem.corrupt_next_read
        self.handlers.update({
            "+CMEE": self.cmee_cmd, "+QISDE": self.qisde_cmd, "+CPIN": self.cpin,
            "+CREG": self.registration, "+CGREG": self.registration, "+CEREG": self.registration,
            "+CFUN": self.cfun, "+QICSGP": self.qicsgp, "+QIACT": self.qiact, "+QIDEACT": self.qideact,
            "+QIOPEN": self.services.qiopen, "+QICLOSE": self.services.qiclose,
            "+QISTATE": self.services.qistate, "+QISEND": self.services.qisend, "+QIRD": self.services.qird,
            "+QIDNSGIP": self.qidnsgip,
            "+QIDNSCFG": self.qidnscfg, "+QIGETERROR": self.qigeterror, "+QICFG": self.qicfg,
        })
        self.identity = QuectelIdentity(self, **(identity or {}))

    # --- what the command loop asks of this dialect -----------------------------------------------
    def announce_boot(self) -> None:
        self._booted_at = asyncio.get_running_loop().time()
        for urc in self.boot_urcs:
            self.urc(urc)

    def bad_parameters(self) -> None:
        self.ip_error(552)

    # --- events (tests trigger them through FakeModem) ---------------------------------------------
    def restart(self) -> None:
        """Reboot: sockets and contexts gone, settings back to power-on, boot URCs again."""
        self.services.drop_all()
        for ctx in self.contexts.values():
            ctx.active = False
        self.echo, self.cmee, self.qisde = self._power_on_echo, 0, True
        self._reports = dict.fromkeys(self._reports, 0)
        super().restart()

    def drop_network(self) -> None:
        for ctx_id, ctx in self.contexts.items():
            if ctx.active:
                ctx.active = False
                self.services.drop_context(ctx_id)
                self.urc(f'+QIURC: "pdpdeact",{ctx_id}')

    def lose_registration(self, seconds: float) -> None:
        loop = asyncio.get_running_loop()
        self._deregistered_until = loop.time() + seconds
        self._report_registration(2)
        loop.call_later(seconds, self._report_registration, 1)

    def _report_registration(self, stat: int) -> None:
        for name, n in self._reports.items():
            if n:
                self.urc(f"{name}: {stat}")

    @property
    def sockets(self):
        """connectID -> socket, for tests that look inside the module."""
        return self.services.sockets

    def open_ids(self):
        """The connectIDs in use, listeners included (tests look inside with this)."""
        return sorted(self.services.sockets)

    def host_socket(self, sock_id: int):
        """The real host socket behind a module socket."""
        return self.services.sockets[sock_id].bridge.transport.get_extra_info("socket")

    async def shut_down(self) -> None:
        await self.services.shut_down()

    def spawn(self, coro) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # --- output helpers -----------------------------------------------------------------------------
    BENIGN_URCS = ('+QIND: "csq",22,99', "+QIND: SMS DONE")  # lines a driver must set aside

    def reply(self, *lines: str, final: str = "OK") -> None:
        """Information lines and a final result in one write, as the module frames them."""
        noise = self.faults.noise
        out = b"".join(noise(self.BENIGN_URCS) + b"\r\n" + line.encode("latin-1") + b"\r\n" for line in lines)
        if not self.faults.chance("no_final"):
            out += noise(self.BENIGN_URCS) + b"\r\n" + final.encode() + b"\r\n"
        self.serial.write(out)

    def final(self, text: str) -> None:
        if not self.faults.chance("no_final"):
            self.serial.write(self.faults.noise(self.BENIGN_URCS) + b"\r\n" + text.encode() + b"\r\n")

    def urc(self, text: str) -> None:
        self.serial.write(b"\r\n" + text.encode("latin-1") + b"\r\n")

    def ip_error(self, code: int) -> None:
        self.last_error = code
        if self.ip_error_style == "CME" and self.cmee:
            self.final(f"+CME ERROR: {code}")
        else:
            self.final("ERROR")

    def cme_error(self, code: int) -> None:
        self.final(f"+CME ERROR: {code}" if self.cmee else "ERROR")

    # --- basic commands -------------------------------------------------------------------------
    async def cmee_cmd(self, cmd: ATCommand) -> None:
        if cmd.kind == "read":
            self.reply(f"+CMEE: {self.cmee}")
            return
        value = cmd.int_arg(0)
        if value not in (0, 1, 2):
            raise ValueError("CMEE")
        self.cmee = value
        self.final("OK")

    async def qisde_cmd(self, cmd: ATCommand) -> None:
        if cmd.kind == "read":
            self.reply(f"+QISDE: {int(self.qisde)}")
            return
        self.qisde = cmd.int_arg(0) == 1
        self.final("OK")

    async def cpin(self, cmd: ATCommand) -> None:
        if self.sim == "absent":
            self.cme_error(10)
        elif cmd.kind == "read":
            self.reply(f"+CPIN: {self.sim}")
        elif cmd.kind == "write":
            self.sim = "READY"
            self.final("OK")
        else:
            self.final("ERROR")

    def registered(self) -> bool:
        now = asyncio.get_running_loop().time()
        return now - self._booted_at >= self.registration_delay and now >= self._deregistered_until

    async def registration(self, cmd: ATCommand) -> None:
        if cmd.kind == "write":
            n = cmd.int_arg(0)
            if n not in (0, 1, 2):
                raise ValueError("report mode")
            self._reports[cmd.name] = n
            self.final("OK")
            return
        stat = 1 if self.registered() else 2
        self.reply(f"{cmd.name}: {self._reports.get(cmd.name, 0)},{stat}")

    async def cfun(self, cmd: ATCommand) -> None:
        if cmd.kind == "read":
            self.reply("+CFUN: 1")
        else:
            self.final("OK")

    # --- data context ---------------------------------------------------------------------------
    async def qicsgp(self, cmd: ATCommand) -> None:
        ctx_id = cmd.int_arg(0)
        if not 1 <= ctx_id <= 16:
            raise ValueError("context")
        ctx = self.contexts.setdefault(ctx_id, Context())
        if len(cmd.args) == 1:
            self.reply(f'+QICSGP: 1,"{ctx.apn}","{ctx.user}","{ctx.password}",{ctx.auth}')
            return
        if cmd.int_arg(1) not in (1, 2, 3) or len(cmd.args) not in (3, 5, 6):
            raise ValueError("QICSGP arguments")
        ctx.apn = cmd.arg(2)
        ctx.user, ctx.password = cmd.arg(3, ""), cmd.arg(4, "")
        ctx.auth = cmd.int_arg(5, 0)
        self.final("OK")

    async def qiact(self, cmd: ATCommand) -> None:
        if cmd.kind == "read":
            lines = [f'+QIACT: {i},1,1,"{self.local_ip}"' for i, c in sorted(self.contexts.items()) if c.active]
            self.reply(*lines)
            return
        ctx_id = cmd.int_arg(0)
        ctx = self.contexts.setdefault(ctx_id, Context())
        if ctx.active or not self.registered():
            self.ip_error(561)
            return
        await asyncio.sleep(self.qiact_delay)
        ctx.active = True
        self.final("OK")

    async def qideact(self, cmd: ATCommand) -> None:
        ctx_id = cmd.int_arg(0)
        ctx = self.contexts.get(ctx_id)
        self.services.drop_context(ctx_id)
        if ctx is not None:
            ctx.active = False
        self.final("OK")

    def context_active(self, ctx_id: int) -> bool:
        ctx = self.contexts.get(ctx_id)
        return ctx is not None and ctx.active

    # --- name resolution ------------------------------------------------------------------------
    async def qidnsgip(self, cmd: ATCommand) -> None:
        ctx_id, name = cmd.int_arg(0), cmd.arg(1)
        if not self.context_active(ctx_id) or not name:
            self.ip_error(561 if name else 552)
            return
        self.final("OK")
        self.spawn(self._answer_dns(name))

    async def _answer_dns(self, name: str) -> None:
        await asyncio.sleep(self.dns_delay)
        addresses = self.network.lookup(name)
        if not addresses:
            self.urc('+QIURC: "dnsgip",565' + (",0,0" if self.dnsgip_failure_fields == 3 else ""))
            return
        self.urc(f'+QIURC: "dnsgip",0,{len(addresses)},600')
        for address in addresses:
            self.urc(f'+QIURC: "dnsgip","{address}"')

    async def qidnscfg(self, cmd: ATCommand) -> None:
        if len(cmd.args) == 1:
            self.reply(f'+QIDNSCFG: {cmd.int_arg(0)},"10.0.0.53","10.0.0.54"')
        else:
            self.final("OK")

    async def qigeterror(self, cmd: ATCommand) -> None:
        self.reply(f"+QIGETERROR: {self.last_error},{'no error' if not self.last_error else 'error'}")

    async def qicfg(self, cmd: ATCommand) -> None:
        name = (cmd.arg(0) or "").lower()
        if name == "tcp/keepalive":
            await self.services.qicfg_keepalive(cmd)
            return
        if name == "recvind":
            if len(cmd.args) == 1:
                self.reply(f'+QICFG: "recvind",{int(self.recvind)}')
                return
            self.recvind = cmd.int_arg(1) == 1
        self.final("OK")
