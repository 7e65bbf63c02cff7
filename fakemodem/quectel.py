"""An emulated Quectel module (BG96, BG95, EC25, EC200U): the "QI" TCP/IP command set, per the
application notes.

Written from ``shared/at-reference/quectel-tcpip.md`` only. ``model`` picks a profile
(:mod:`fakemodem.profiles`: limits, prompt, boot URCs, quirks, identity). Where the reference marks
a behaviour unconfirmed, it is an option here (defaults in parentheses):

* ``qiclose_unknown`` ("OK"): answer to AT+QICLOSE on an id that is not open ("OK" or "ERROR");
* ``connected_state`` (2): <socket_state> reported for a connected client (2 or 3);
* ``prompt`` (the profile's, b"\\r\\n> "): the data prompt bytes;
* ``dnsgip_failure_fields`` (1): 1 -> ``"dnsgip",565``; 3 -> ``"dnsgip",565,0,0``;
* ``ip_error_style`` ("ERROR"): TCP/IP failures as ERROR, or "CME" for ``+CME ERROR: 5xx``;
* ``payload_echo`` ("both"): QISEND payload echoed when ATE *and* QISDE are on ("both"), on
  QISDE alone ("qisde"), or never ("never");
* ``recv_with_length`` (False): power-on value of AT+QICFG="recvind";
* ``push_crlf`` (False): a CR LF after the data of a direct-push ``+QIURC: "recv"``;
* ``push_quote_ip`` (True): the UDP SERVICE sender's address quoted in a direct-push URC;
* ``incoming_access_mode`` ("buffer"): access mode of an accepted "TCP INCOMING" socket, or
  "listener" for the listener's;
* ``transparent_close`` ("NO CARRIER"): what the peer's close prints while the line is in
  transparent mode ("NO CARRIER", or "urc" for ``+QIURC: "closed",<id>``);
* ``escape_guard`` (1.0): seconds of silence before and after ``+++`` (the three within it);
* ``before_at`` ("error"): a line with other characters before ``AT`` answers ERROR, or
  "ignored": they are dropped (fakemodem/module.py);
* ``qisend_cancel`` ("OK"): the answer to a variable-length AT+QISEND cancelled with ESC;
* ``qisendex_max`` (512): the most bytes AT+QISENDEX takes;
* ``hex_length`` ("bytes"): with AT+QICFG="dataformat" hex, lengths count data bytes ("bytes")
  or hex characters ("chars");
* ``error_text_case`` ("lower"): AT+QIGETERROR and AT+CMEE=2 texts lower-case or "capitalized";
* ``basic_error`` ("ERROR"): bad parameters of a non-TCP/IP command, "ERROR", or "CME" for
  ``+CME ERROR: 50`` when AT+CMEE is 1 or 2;
* ``cmee`` (0): the power-on value of AT+CMEE;
* ``ipv6_upper`` (True) and ``ipv6_compressed`` (True): how IPv6 addresses are printed in
  AT+QIACT?, dnsgip, QIRD, QISTATE and the "incoming"/"recv" URCs (only QIACT? is seen in logs);
* ``ipv4v6_context`` (True): AT+QICSGP takes context type 3 (False: types 1 and 2 only, as the BG96
  manual V1.0 lists them);
* ``ipv6_network`` (True): the network grants IPv6 (False: a type 3 context gets IPv4 alone and
  shows one address; a type 2 context fails to activate with 561);
* ``dnsgip_families`` ("context"): AT+QIDNSGIP answers the addresses the context's type can use
  ("all": every address of the ``hosts`` entry, whatever the type);
* ``family_mismatch_error`` (566): the +QIOPEN code for a peer of a family the context lacks.
* ``ssl_check_host`` (True), ``ssl_tls13`` (False), ``ssl_failure_error`` ("split"): the module's
  own TLS (see quectel_ssl.py);
* ``qfupl_timeout`` ("partial"), ``qfupl_checksum_pad`` (False), ``ufs_size`` (1 MiB): the file
  system that holds certificates (see quectel_files.py);
* ``flow_scope`` ("data") and ``at_w_saves_ifc`` (True): when AT+IFC applies and whether AT&W keeps
  it; ``rates`` (AT+IPR's) and ``hardware_flow`` (False: AT+IFC=2,2 refused) are the UART's
  (see quectel_uart.py).

Other options: ``hosts`` (name -> address or list of addresses), ``blackhole`` (addresses that
never answer a connect), ``allow_outside`` (False: non-loopback addresses are blackholed so the
emulator never sends traffic off this machine), ``boot_delay``, ``boot_urcs``, ``echo``,
``local_ip``, ``local_ipv6``, ``rx_buffer``/``tx_buffer`` (per-socket module
buffers), ``open_timeout``, ``dns_delay``, ``qiact_delay``, ``latency`` (seconds before each
command's answer), ``identity`` (profile fields to replace by name, e.g. ``{"imei": "...", "csq": (12, 99)}``,
for the identification and status answers of :mod:`fakemodem.identity`).

Day one (fakemodem/README.md, "Day one"): ``sim``, ``pin``, ``puk``, ``sim_absent_urc``,
``cpin_not_pending``, ``pin_state_urc`` (the card: :mod:`fakemodem.quectel_sim`); ``registration``,
``registration_delay``, ``registration_mix``, ``no_signal_stat`` (:mod:`fakemodem.quectel_registration`);
``apn_required`` and ``apn_error`` (AT+QIACT refuses any other APN); ``boot_manner`` ("clean", or
"warm": a module that was on goes down first, ``POWERED DOWN``) and ``app_ready_delay`` (ERROR to
every command until ``APP RDY``).
"""
import asyncio
import logging
from dataclasses import dataclass
from typing import Dict, Optional

from . import ipv6, profiles
from .atcommand import ATCommand
from .cmux import CmuxService
from .quectel_files import FileSystem
from .quectel_registration import Registration
from .quectel_sim import Sim
from .quectel_settings import BringUp, QiSettings, error_text
from .quectel_ssl import SslService
from .serial_side import SerialSide
from .faults import Faults
from .identity import QuectelAnswers, customised
from .module import EmulatedModule, PortSetting
from .network import Network
from .quectel_sockets import SocketServices
from .quectel_uart import RATES, QuectelUart

log = logging.getLogger("fakemodem.quectel")

BOOT_MANNERS = ("clean", "warm")



@dataclass
class Context:
    apn: str = ""
    user: str = ""
    password: str = ""
    auth: int = 0
    active: bool = False
    context_type: int = 1  # 1 IPv4, 2 IPv6, 3 IPv4v6


class QuectelModule(EmulatedModule):
    def __init__(self, serial: SerialSide, *, model: str = "BG96", hosts: Optional[Dict[str, object]] = None,
                 blackhole=(), allow_outside: bool = False, boot_delay: Optional[float] = None, boot_urcs=None,
                 echo: bool = True, registration_delay: float = 0.0, sim: str = "ready", pin: str = "1234",
                 puk: str = "12345678", sim_absent_urc: str = "NOT READY", cpin_not_pending: int = 3,
                 pin_state_urc: bool = True, registration: str = "home", registration_mix: str = "same",
                 no_signal_stat: int = 2, apn_required: Optional[str] = None, apn_error: int = 561,
                 boot_manner: str = "clean", app_ready_delay: float = 0.0, local_ip: str = "10.64.12.7", qiclose_unknown: str = "OK", connected_state: int = 2,
                 prompt: Optional[bytes] = None, dnsgip_failure_fields: int = 1, ip_error_style: str = "ERROR",
                 payload_echo: str = "both", recv_with_length: bool = False, push_crlf: bool = False,
                 push_quote_ip: bool = True, incoming_access_mode: str = "buffer",
                 transparent_close: str = "NO CARRIER", escape_guard: float = 1.0, qisend_cancel: str = "OK",
                 qisendex_max: int = 512, hex_length: str = "bytes", error_text_case: str = "lower",
                 basic_error: str = "ERROR", cmee: int = 0, rx_buffer: int = 65536, tx_buffer: int = 65536,
                 open_timeout: float = 75.0, dns_delay: float = 0.0, qiact_delay: float = 0.0,
                 local_ipv6: str = "2001:db8:10::7", ipv6_upper: bool = True, ipv6_compressed: bool = True,
                 ipv4v6_context: bool = True, ipv6_network: bool = True, dnsgip_families: str = "context",
                 family_mismatch_error: int = 566, latency: float = 0.0, identity: Optional[dict] = None,
                 ssl_check_host: bool = True, ssl_tls13: bool = False, ssl_failure_error: str = "split",
                 qfupl_timeout: str = "partial", qfupl_checksum_pad: bool = False, ufs_size: int = 1024 * 1024,
                 before_at: str = "error", rates=RATES, hardware_flow: bool = True, flow_scope: str = "data",
                 at_w_saves_ifc: bool = True, cmux: Optional[dict] = None, faults: Optional[Faults] = None):
        if boot_manner not in BOOT_MANNERS:
            raise ValueError(f"boot_manner is one of {', '.join(BOOT_MANNERS)}, not {boot_manner!r}")
        if boot_delay is None:  # a module that was on goes down first and is deaf for seconds
            boot_delay = 3.0 if boot_manner == "warm" else 0.05
        super().__init__(serial, faults if faults is not None else Faults(), boot_delay=boot_delay, echo=echo,
                         latency=latency, before_at=before_at)
        self.profile = profiles.quectel(model)
        # what the identification and status commands answer: the profile's, with ``identity`` put in
        self.identity, self.radio = customised(self.profile.identity, self.profile.radio, identity or {})
        if recv_with_length and not self.profile.recvind:
            raise ValueError(f"{self.profile.model} has no AT+QICFG=\"recvind\"")
        for name, value, allowed in (("qiclose_unknown", qiclose_unknown, ("OK", "ERROR")),
                                     ("connected_state", connected_state, (2, 3)),
                                     ("dnsgip_failure_fields", dnsgip_failure_fields, (1, 3)),
                                     ("ip_error_style", ip_error_style, ("ERROR", "CME")),
                                     ("payload_echo", payload_echo, ("both", "qisde", "never")),
                                     ("incoming_access_mode", incoming_access_mode, ("buffer", "listener")),
                                     ("transparent_close", transparent_close, ("NO CARRIER", "urc")),
                                     ("qisend_cancel", qisend_cancel, ("OK", "ERROR", "SEND FAIL")),
                                     ("hex_length", hex_length, ("bytes", "chars")),
                                     ("error_text_case", error_text_case, ("lower", "capitalized")),
                                     ("basic_error", basic_error, ("ERROR", "CME")),
                                     ("dnsgip_families", dnsgip_families, ("context", "all"))):
            if value not in allowed:
                raise ValueError(f"{name} is one of {allowed}, not {value!r}")
        self.network = Network(hosts, blackhole, allow_outside)
        self.boot_urcs = tuple(self.profile.boot_urcs if boot_urcs is None else boot_urcs)
        self.boot_manner = boot_manner
        self.app_ready_delay = app_ready_delay
        self._app_ready_at = 0.0
        self.sim = Sim(self, sim, pin, puk, sim_absent_urc, cpin_not_pending, pin_state_urc)
        self.network_registration = Registration(self, registration, registration_delay, registration_mix,
                                                 no_signal_stat)
        if apn_required is not None and not isinstance(apn_required, str):
            raise ValueError(f"apn_required is an APN (text), not {apn_required!r}")
        self.apn_required = apn_required
        self.apn_error = apn_error
        self.local_ip = local_ip
        if ipv6.version(local_ipv6) != 6:
            raise ValueError(f"local_ipv6 is an IPv6 address, not {local_ipv6!r}")
        self.local_ipv6 = local_ipv6
        self.ipv6_upper, self.ipv6_compressed = ipv6_upper, ipv6_compressed
        self.ipv4v6_context = ipv4v6_context
        self.ipv6_network = ipv6_network
        self.dnsgip_families = dnsgip_families
        self.family_mismatch_error = family_mismatch_error
        self.qiclose_unknown = qiclose_unknown
        self.connected_state = connected_state
        self.prompt = self.profile.prompt if prompt is None else prompt
        self.dnsgip_failure_fields = dnsgip_failure_fields
        self.ip_error_style = ip_error_style
        self.payload_echo = payload_echo
        self.recvind = self._power_on_recvind = recv_with_length
        self.push_crlf = push_crlf
        self.push_quote_ip = push_quote_ip
        self.incoming_access_mode = incoming_access_mode
        self.transparent_close = transparent_close
        self.escape_guard = escape_guard
        self.qisend_cancel = qisend_cancel
        self.qisendex_max = qisendex_max
        self.hex_length = hex_length
        self.error_text_case = error_text_case
        self.basic_error = basic_error
        self.rx_buffer = self.faults.buffer(rx_buffer)
        self.tx_buffer = self.faults.buffer(tx_buffer)
        self.open_timeout = open_timeout
        self.dns_delay = dns_delay
        self.qiact_delay = qiact_delay
        if cmee not in (0, 1, 2):
            raise ValueError("cmee is 0, 1 or 2")
        self._cmee = self.power_on_cmee = cmee
        self.qisde = True
        self.fun = 1
        self.last_error = 0
        self.line = QuectelUart(self, rates, hardware_flow, flow_scope, at_w_saves_ifc)
        self.settings = QiSettings(self.profile)
        self.bring_up = BringUp(self)
        self.contexts: Dict[int, Context] = {}
        self.services = SocketServices(self)
        self.files = FileSystem(self, ufs_size, qfupl_timeout, qfupl_checksum_pad)
        self.ssl = SslService(self, self.files, ssl_check_host, ssl_tls13, ssl_failure_error)
        self.cmux = CmuxService(self, cmux)
        self._tasks: set = set()
        self.power_on_echo = echo
        self.corrupt: Optional[str] = None  # FakeModem.corrupt_next_read
        self._held_urcs = {}  # port -> URCs that came while it was in transparent mode
        self.handlers.update({
            "+CMEE": self.cmee_cmd, "+QISDE": self.qisde_cmd, "+CFUN": self.cfun, "+QICSGP": self.qicsgp, "+QIACT": self.qiact, "+QIDEACT": self.qideact,
            "+QIOPEN": self.services.qiopen, "+QICLOSE": self.services.qiclose,
            "+QISTATE": self.services.qistate, "+QISEND": self.services.data.qisend, "+QIRD": self.services.data.qird,
            "+QIDNSGIP": self.qidnsgip,
            "+QIDNSCFG": self.qidnscfg, "+QIGETERROR": self.qigeterror, "+QICFG": self.qicfg,
            "+QISWTMD": self.services.qiswtmd, "+QISENDEX": self.services.data.qisendex,
            "O": self.services.data.ato, "O0": self.services.data.ato,
        })
        self.handlers.update(self.line.handlers())
        self.handlers.update(self.bring_up.handlers())
        self.handlers.update(self.sim.handlers())
        self.handlers.update(self.network_registration.handlers())
        self.handlers.update(self.files.handlers())
        self.handlers.update(self.ssl.handlers())
        self.handlers.update(self.cmux.handlers())
        self.test_answers.update(self.bring_up.test_answers())
        self.test_answers.update(self.sim.test_answers())
        self.test_answers.update(self.network_registration.test_answers())
        self.test_answers.update(self.files.test_answers())
        self.test_answers.update(self.ssl.test_answers())
        self.test_answers.update(self.cmux.test_answers())
        self.test_answers.update({
            "+CMEE": ["+CMEE: (0-2)"], "+CFUN": ["+CFUN: (0,1,4),(0,1)"], "+QISDE": ["+QISDE: (0,1)"],
            "+QIACT": [f"+QIACT: (1-{self.profile.contexts})"],
            "+QICSGP": [f"+QICSGP: (1-{self.profile.contexts}),(1-{3 if ipv4v6_context else 2}),<APN>,<username>,"
                        "<password>,(0-3)"],
        })
        self.test_answers.update(self.line.test_answers())
        self.identity_answers = QuectelAnswers(self)

    # --- what the command loop asks of this dialect -----------------------------------------------
    def going_down(self) -> None:
        """With ``boot_manner="warm"`` every boot starts from a module that was on: it announces its
        power-down and the context it loses before it goes deaf."""
        if self.boot_manner == "warm":
            self.urc("POWERED DOWN")
            self.urc('+QIURC: "pdpdeact",1')

    def announce_boot(self) -> None:
        loop = asyncio.get_running_loop()
        self.network_registration.booted()
        urcs = [self.sim.boot_urc() if urc.startswith("+CPIN:") else urc for urc in self.boot_urcs]
        if (self.app_ready_delay or self.boot_manner == "warm") and "APP RDY" not in urcs:
            urcs.append("APP RDY")
        ready = urcs.index("APP RDY") if "APP RDY" in urcs else len(urcs)
        for urc in urcs[:ready]:
            self.urc(urc)
        self._app_ready_at = loop.time() + self.app_ready_delay
        if ready < len(urcs):
            loop.call_later(self.app_ready_delay, self._app_ready, self._app_ready_at, urcs[ready:])

    def _app_ready(self, due: float, urcs) -> None:
        if due == self._app_ready_at:  # (not a boot that a restart has replaced)
            for urc in urcs:
                self.urc(urc)

    def refusing(self) -> bool:
        """Between ``RDY`` and ``APP RDY`` every command is answered ERROR (the BG95 of Zephyr PR
        #57110; ``app_ready_delay``)."""
        return asyncio.get_running_loop().time() < self._app_ready_at

    def bad_parameters(self, command: ATCommand) -> None:
        if command.name.startswith(("+QI", "+QSSL")):  # the SSL commands share the TCP/IP errors
            self.ip_error(552)
        elif self.basic_error == "CME":
            self.cme_error(50)
        else:
            self.final("ERROR")

    # --- events (tests trigger them through FakeModem) ---------------------------------------------
    def restart(self) -> None:
        """Reboot: sockets and contexts gone, settings back to power-on, boot URCs again (the
        files of the UFS stay: they are in flash). A line in transparent mode just stops: no
        ``NO CARRIER``, the boot URCs come in the middle of the data."""
        self.services.data.stop_transparent()
        self.cmux.stop()  # a restarted module talks plain AT
        self.services.drop_all()
        self.ssl.restart()
        for ctx in self.contexts.values():
            ctx.active = False
        self._echo, self._cmee, self.qisde, self.fun = self.power_on_echo, self.power_on_cmee, True, 1
        self.sim.restart()
        self.network_registration.restart()
        self.settings = QiSettings(self.profile)
        self.bring_up = BringUp(self)
        self.handlers.update(self.bring_up.handlers())
        self.recvind = self._power_on_recvind
        self.line.restart()
        self._held_urcs = {}
        super().restart()

    def drop_network(self, announce: bool = True) -> None:
        for ctx_id, ctx in self.contexts.items():
            if ctx.active:
                ctx.active = False
                self.services.drop_context(ctx_id)
                self.ssl.drop_context(ctx_id)
                if announce:
                    self.urc(f'+QIURC: "pdpdeact",{ctx_id}')

    def lose_registration(self, seconds: float) -> None:
        self.network_registration.lose(seconds)

    def registered(self) -> bool:
        return self.network_registration.registered()

    @property
    def sockets(self):
        """connectID -> socket, for tests that look inside the module."""
        return self.services.sockets

    def open_ids(self):
        """The connectIDs in use, listeners included (tests look inside with this)."""
        return sorted(self.services.sockets)

    def ssl_ids(self):
        """The SSL client ids in use (a pool of their own)."""
        return sorted(self.ssl.clients)

    def host_socket(self, sock_id: int):
        """The real host socket behind a module socket."""
        return self.services.sockets[sock_id].bridge.transport.get_extra_info("socket")

    async def shut_down(self) -> None:
        await self.services.shut_down()
        self.ssl.drop_all()

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
        self.notice(b"\r\n" + text.encode("latin-1") + b"\r\n")

    def notice(self, head: bytes, payload: bytes = b"", tail: bytes = b"") -> None:
        """Something unasked (a URC, pushed data) on the port(s) notices go to: the UART, or while
        multiplexed the ones AT+QCFG="cmux/urcport" names. A port in transparent mode carries one
        socket's bytes only: the others' news waits until it is back."""
        for port in self.cmux.notice_ports():
            if port.data_mode is not None:
                self._held_urcs.setdefault(port, []).append((head, payload, tail))
            elif payload:
                port.write_frame(head, payload, tail)
            else:
                port.write(head + tail)

    def release_urcs(self) -> None:
        """What happened while the port was in transparent mode, reported once it is back."""
        for head, payload, tail in self._held_urcs.pop(self.serial, []):
            if payload:
                self.serial.write_frame(head, payload, tail)
            else:
                self.serial.write(head + tail)

    def channel_closed(self, port) -> None:
        """A multiplexer channel closed: its data mode ends without a word, its news is dropped."""
        self.services.data.channel_closed(port)
        self._held_urcs.pop(port, None)

    def carried_backlog(self, port) -> int:
        """Bytes the host sent in ``port``'s transparent mode that the socket's peer has not taken."""
        for sock in self.services.sockets.values():
            if sock.carrier is port and sock.bridge is not None and hasattr(sock.bridge, "untaken"):
                return sock.bridge.untaken()
        return 0

    def shown(self, address: str) -> str:
        """An address as this module prints it (IPv6 per ``ipv6_upper``/``ipv6_compressed``)."""
        if ipv6.version(address) is None:
            return address
        return ipv6.printed(address, self.ipv6_upper, self.ipv6_compressed)

    def ip_error(self, code: int) -> None:
        self.last_error = code
        if self.ip_error_style == "CME" and self.cmee:
            self.cme_error(code)
        else:
            self.final("ERROR")

    def cme_error(self, code: int) -> None:
        """ERROR, ``+CME ERROR: <n>`` or ``+CME ERROR: <text>``, as AT+CMEE=0/1/2 selects."""
        if self.cmee == 2:
            self.final(f"+CME ERROR: {error_text(code, self.error_text_case)}")
        elif self.cmee == 1:
            self.final(f"+CME ERROR: {code}")
        else:
            self.final("ERROR")

    cmee = PortSetting("cmee")  # AT+CMEE: the module's, or a multiplexer channel's own

    # --- basic commands -------------------------------------------------------------------------
    async def cmee_cmd(self, cmd: ATCommand) -> None:
        if cmd.kind == "read":
            self.reply(f"+CMEE: {self.cmee}")
            return
        self.cmee = cmd.number(0, 0, 2)
        self.final("OK")

    async def qisde_cmd(self, cmd: ATCommand) -> None:
        if cmd.kind == "read":
            self.reply(f"+QISDE: {int(self.qisde)}")
            return
        self.qisde = cmd.number(0, 0, 1) == 1
        self.final("OK")

    async def cfun(self, cmd: ATCommand) -> None:
        """AT+CFUN=<0|1|4>[,<rst>]: 0 and 4 take the radio down (contexts with it); rst 1 restarts."""
        if cmd.kind == "read":
            self.reply(f"+CFUN: {self.fun}")
            return
        if cmd.kind != "write":
            raise ValueError("AT+CFUN takes a level")
        fun, reset = cmd.number(0, 0, 4), cmd.number(1, 0, 1, 0)
        if fun not in (0, 1, 4) or len(cmd.args) > 2:
            raise ValueError("CFUN level")
        self.final("OK")
        if reset:
            self.restart()
            return
        if fun != 1 and self.fun == 1:
            self.drop_network()
        self.fun = fun

    # --- data context ---------------------------------------------------------------------------
    async def qicsgp(self, cmd: ATCommand) -> None:
        ctx = self.contexts.setdefault(cmd.number(0, 1, self.profile.contexts), Context())
        if len(cmd.args) == 1:
            self.reply(f'+QICSGP: {ctx.context_type},"{ctx.apn}","{ctx.user}","{ctx.password}",{ctx.auth}')
            return
        if len(cmd.args) not in (3, 5, 6):
            raise ValueError("QICSGP arguments")
        context_type = cmd.number(1, 1, 3 if self.ipv4v6_context else 2)
        auth = cmd.number(5, 0, 3, 0)
        ctx.context_type = context_type
        ctx.apn = cmd.arg(2)
        ctx.user, ctx.password = cmd.arg(3, ""), cmd.arg(4, "")
        ctx.auth = auth
        self.final("OK")

    async def qiact(self, cmd: ATCommand) -> None:
        if cmd.kind == "read":
            self.reply(*[f"+QIACT: {i},1,{c.context_type}" + "".join(f',"{self.shown(a)}"' for a in self.addresses(c))
                         for i, c in sorted(self.contexts.items()) if c.active])
            return
        ctx = self.contexts.setdefault(cmd.number(0, 1, self.profile.contexts), Context())
        if ctx.active or not self.registered() or not self.addresses(ctx):
            self.ip_error(561)
            return
        await asyncio.sleep(self.qiact_delay)
        if self.apn_required is not None and ctx.apn.lower() != self.apn_required.lower():
            self.ip_error(self.apn_error)  # the network refuses the context (APNs compare without case)
            return
        ctx.active = True
        self.final("OK")

    async def qideact(self, cmd: ATCommand) -> None:
        ctx_id = cmd.number(0, 1, self.profile.contexts)
        ctx = self.contexts.get(ctx_id)
        self.services.drop_context(ctx_id)
        self.ssl.drop_context(ctx_id)
        if ctx is not None:
            ctx.active = False
        self.final("OK")

    def context_active(self, ctx_id: int) -> bool:
        ctx = self.contexts.get(ctx_id)
        return ctx is not None and ctx.active

    def addresses(self, ctx: Context):
        """The context's own addresses, IPv4 first (the order of the logs in ipv6.md §1.2)."""
        v4 = [self.local_ip] if ctx.context_type in (1, 3) else []
        v6 = [self.local_ipv6] if ctx.context_type in (2, 3) and self.ipv6_network else []
        return v4 + v6

    def families(self, ctx_id: int):
        """The IP versions (4, 6) the context carries."""
        ctx = self.contexts.get(ctx_id)
        return {ipv6.version(a) for a in self.addresses(ctx)} if ctx is not None else set()

    # --- name resolution ------------------------------------------------------------------------
    async def qidnsgip(self, cmd: ATCommand) -> None:
        ctx_id, name = cmd.number(0, 1, self.profile.contexts), cmd.arg(1)
        if not self.context_active(ctx_id) or not name:
            self.ip_error(561 if name else 552)
            return
        self.final("OK")
        self.spawn(self._answer_dns(name, self.families(ctx_id)))

    async def _answer_dns(self, name: str, families) -> None:
        await asyncio.sleep(self.dns_delay)
        addresses = [self.shown(a) for a in self.network.lookup(name)
                     if self.dnsgip_families == "all" or ipv6.version(a) in families | {None}]
        if not addresses:
            self.urc('+QIURC: "dnsgip",565' + (",0,0" if self.dnsgip_failure_fields == 3 else ""))
            return
        self.urc(f'+QIURC: "dnsgip",0,{len(addresses)},300')  # TTL as in the reference's transcript
        for address in addresses:
            self.urc(f'+QIURC: "dnsgip","{address}"')

    async def qidnscfg(self, cmd: ATCommand) -> None:
        ctx_id = cmd.number(0, 1, self.profile.contexts)
        if len(cmd.args) == 1:
            self.reply(f'+QIDNSCFG: {ctx_id},"10.0.0.53","10.0.0.54"')
        else:
            self.final("OK")

    async def qigeterror(self, cmd: ATCommand) -> None:
        self.reply(f"+QIGETERROR: {self.last_error},{error_text(self.last_error, self.error_text_case)}")

    async def qicfg(self, cmd: ATCommand) -> None:
        name = (cmd.arg(0) or "").lower()
        if name == "tcp/keepalive":
            await self.services.qicfg_keepalive(cmd)
            return
        if name == "recvind":
            if not self.profile.recvind:
                raise ValueError(f"no recvind on {self.profile.model}")
            if len(cmd.args) == 1:
                self.reply(f'+QICFG: "recvind",{int(self.recvind)}')
                return
            self.recvind = cmd.number(1, 0, 1) == 1
            self.final("OK")
            return
        line = self.settings.answer(cmd)
        if line is None:
            self.final("OK")
        else:
            self.reply(line)
