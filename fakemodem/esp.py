"""An emulated ESP8266/ESP8285 (NonOS AT 1.x) or ESP-AT 2.x module, per ``shared/at-reference/esp-at.md``.

``firmware`` picks the profile (:mod:`fakemodem.profiles`): "1.7" (NonOS AT, the default as on
ESP8285 boards), "2.2" (ESP-AT) or "2.4" (ESP-AT on an ESP32-C3: 8192 bytes per AT+CIPSEND), or a
release of them such as "1.7.4" or "2.2.0". What differs on
the wire follows it: ``_CUR`` command names, ``FAIL`` vs ``ERROR`` after ``+CWJAP:<n>``, the
``> `` vs ``\\r\\n>`` prompt, quoted addresses in ``+IPD``/``+CIPDOMAIN``, the ``+CIPRECVDATA``
layout, passive mode for TCP only (1.x) or UDP too (2.x), ``AT+CIPSTATE?`` (2.x).

Options: ``networks`` (SSID -> password), ``hosts`` (name -> address), ``blackhole``,
``allow_outside`` (False: only loopback peers are real), ``boot_delay``, ``join_delay``, ``connect_timeout``,
``latency`` (seconds before each command's answer), ``passive_rearm`` ("empty": a new ``+IPD``
notice only once the buffer was read empty, the default; "read": after any read),
``cipclose_reports_closed`` (True: ``<id>,CLOSED`` before the OK of AT+CIPCLOSE),
``send_max`` and ``rx_window`` (the profile's: 2048, and 5760 bytes per link as on ESP8266; 8192 and 5744 on 2.4), ``prompt``
(the profile's), ``identity`` (profile fields to replace by name, e.g. ``{"mac": "...", "rssi": -71}``,
for the identification answers of :mod:`fakemodem.identity`). Switches for what the reference leaves
open (defaults first): ``cipstatus_style`` ("generation": the STATUS values of each generation's
documents; "1.x": the 1.x values everywhere, as drivers read them), ``uart_report`` ("actual": AT+UART_CUR? shows the rate the 80 MHz clock
makes; "requested"), ``passthrough_prompt`` (b"\\r\\nOK\\r\\n\\r\\n>"), ``passthrough_close``
("CLOSED": the peer's close ends passthrough with ``CLOSED``; "silent"), ``escape_guard`` (0.02 s
around ``+++``), ``escape_rule`` (the generation's: "packet" on 1.x, a packet that is exactly
``+++``; "window" on 2.x, the three within the guard time of the first), ``before_at`` ("error":
a line with other characters before ``AT`` answers ERROR; "ignored": they are dropped), ``sendex_recv_count`` ("received": ``Recv <n> bytes`` counts bytes taken; "sent":
after unescaping), ``rejoin_disconnect`` (True: ``WIFI DISCONNECT`` before joining again while
joined), ``connect_failure`` ("CLOSED": a failed AT+CIPSTART answers ERROR then ``<id>,CLOSED``;
"CONNECT FAIL": 1.x prints ``<id>,CONNECT FAIL`` instead of CLOSED), ``recvlen_unused`` (""
: AT+CIPRECVLEN? shows unused links as empty fields; "0"), ``recvdata_crlf`` (False: 2.x
``+CIPRECVDATA:`` has no CR LF before it), ``ipv6_got`` ("after_ok": with AT+CIPV6=1 a join prints
``WIFI GOT IPv6 LL`` and ``WIFI GOT IPv6 GL`` after its OK; "before_ok"; "link_local_only": the AP
advertises no prefix, GL never comes), ``server_timeout`` (180: what AT+CIPSTO? answers before any
AT+CIPSTO, the reference's unconfirmed default). ``client_ca`` and ``client_pki``: the CAs and client
certificates flashed in a 2.x module for its SSL links (see esp_ssl.py). Manners of real modules
(fakemodem/README.md): ``boot_noise``, ``vendor_banner``, ``boot_outcome``, ``gmr_style`` (what it
prints at boot and to AT+GMR: esp_boot.py), ``rst_answer`` ("ERROR": AT+RST refused), ``ipd_crlf``
(False: +IPD glued to the data before it), ``recvdata_to_read`` and ``udp_start_report`` (ESP-AT
2.1's extra lines), ``ssl_count`` ("encrypted": passive SSL counts as records), ``send_ok_delay``
(SEND OK late, ``busy s...`` meanwhile on 1.x).

IPv6 (2.x, ipv6.md §2): AT+CIPV6, "TCPv6"/"UDPv6" links on ``::1`` (after AT+CIPV6=1 and a join),
v6 lines in AT+CIFSR and AT+CIPSTA?, AT+CIPDOMAIN's ``<ip network>``. 1.x knows none of it (ERROR).
Commands that arrive while one is running are answered ``busy p...`` and dropped.
"""
import asyncio
import dataclasses
import logging
from typing import Dict, Optional

from . import esp_boot, ipv6, profiles
from .atcommand import ATCommand
from .serial_side import SerialSide
from .esp_links import Links
from .esp_sending import Sending
from .esp_ssl import EspSsl
from .esp_settings import STATION_MODES, EspSettings
from .faults import Faults
from .identity import EspAnswers, customised
from .module import EmulatedModule
from .network import Network

log = logging.getLogger("fakemodem.esp")

STATION_IP = "192.168.4.23"
GATEWAY = "192.168.4.1"
STATION_IP6LL = "fe80::a6cf:12ff:fe00:1122"           # the reference's transcript (ipv6.md §2.6)
STATION_IP6GL = "2001:db8:10::a6cf:12ff:fe00:1122"


def unescape(value: str) -> str:
    """ESP-AT strings escape ``,``, ``"`` and ``\\`` with a backslash."""
    out, escaped = [], False
    for ch in value:
        if escaped:
            out.append(ch)
            escaped = False
        elif ch == "\\":
            escaped = True
        else:
            out.append(ch)
    return "".join(out)


def split_escaped(text: str):
    """Arguments of an ESP command: quotes and backslash escapes respected."""
    args, current, quoted, escaped = [], [], False, False
    for ch in text:
        if escaped:
            current.append(ch)
            escaped = False
        elif ch == "\\" and quoted:
            escaped = True
        elif ch == '"':
            quoted = not quoted
        elif ch == "," and not quoted:
            args.append("".join(current).strip())
            current = []
        else:
            current.append(ch)
    if quoted:
        raise ValueError("unbalanced quote")
    args.append("".join(current).strip())
    return args, [False] * len(args)


class EspModule(EmulatedModule):
    splitter = staticmethod(split_escaped)
    def __init__(self, serial: SerialSide, *, firmware: str = "1.7", networks: Optional[Dict[str, str]] = None,
                 hosts: Optional[Dict[str, object]] = None, blackhole=(), allow_outside: bool = False,
                 boot_delay: float = 0.05, boot_noise=False, vendor_banner: str = "", boot_outcome: str = "ready",
                 rst_answer: str = "OK", gmr_style: str = "espressif", ipd_crlf: bool = True,
                 recvdata_to_read: bool = False, ssl_count: str = "decrypted", udp_start_report: bool = False,
                 send_ok_delay: float = 0.0, echo: bool = True, join_delay: float = 0.05,
                 connect_timeout: float = 10.0, latency: float = 0.0, passive_rearm: str = "empty",
                 cipclose_reports_closed: bool = True, send_max: Optional[int] = None,
                 rx_window: Optional[int] = None, prompt: Optional[bytes] = None, cipstatus_style: str = "generation",
                 uart_report: str = "actual", passthrough_prompt: bytes = b"\r\nOK\r\n\r\n>",
                 passthrough_close: str = "CLOSED", escape_guard: float = 0.02, escape_rule: Optional[str] = None,
                 sendex_recv_count: str = "received",
                 rejoin_disconnect: bool = True, connect_failure: str = "CLOSED", recvlen_unused: str = "",
                 recvdata_crlf: bool = False, ipv6_got: str = "after_ok", server_timeout: int = 180,
                 identity: Optional[dict] = None, client_ca=(), client_pki=(), before_at: str = "error",
                 rates=None, hardware_flow: bool = True, faults: Optional[Faults] = None):
        super().__init__(serial, faults if faults is not None else Faults(), boot_delay=boot_delay, echo=echo,
                         latency=latency, before_at=before_at)
        serial.terminator = b"\r\n"
        serial.busy_reply = b"\r\nbusy p...\r\n"
        self.profile, self.firmware = profiles.esp(firmware)
        self.major = self.profile.major
        # what the identification commands answer: the profile's, its version filled in, ``identity`` put in
        self.boot_noise = esp_boot.check(boot_noise, vendor_banner, boot_outcome, gmr_style)
        self.vendor_banner, self.boot_outcome, self.gmr_style = vendor_banner, boot_outcome, gmr_style
        gmr_lines = esp_boot.AI_THINKER_GMR if gmr_style == "ai-thinker" else self.profile.identity.gmr_lines
        versioned = dataclasses.replace(
            self.profile.identity, revision=self.firmware,
            gmr_lines=tuple(line.format(version=self.firmware) for line in gmr_lines))
        self.identity, self.radio = customised(versioned, self.profile.radio, identity or {})
        self.prompt = self.profile.prompt if prompt is None else prompt
        for name, value, allowed in (("cipstatus_style", cipstatus_style, ("generation", "1.x")),
                                     ("uart_report", uart_report, ("actual", "requested")),
                                     ("passthrough_close", passthrough_close, ("CLOSED", "silent")),
                                     ("escape_rule", escape_rule, (None, "window", "packet")),
                                     ("sendex_recv_count", sendex_recv_count, ("received", "sent")),
                                     ("passive_rearm", passive_rearm, ("empty", "read")),
                                     ("connect_failure", connect_failure, ("CLOSED", "CONNECT FAIL")),
                                     ("recvlen_unused", recvlen_unused, ("", "0")),
                                     ("rst_answer", rst_answer, ("OK", "ERROR")),
                                     ("ssl_count", ssl_count, ("decrypted", "encrypted")),
                                     ("ipv6_got", ipv6_got, ("after_ok", "before_ok", "link_local_only"))):
            if value not in allowed:
                raise ValueError(f"{name} is one of {allowed}, not {value!r}")
        self.cipstatus_style = cipstatus_style
        self.uart_report = uart_report
        self.passthrough_prompt = passthrough_prompt
        self.passthrough_close = passthrough_close
        self.escape_guard = escape_guard
        # 1.x: "a single packet containing +++"; 2.x: the three within 20 ms (fakemodem/datamode.py)
        self.escape_rule = escape_rule or ("packet" if self.major == 1 else "window")
        self.sendex_recv_count = sendex_recv_count
        self.rejoin_disconnect = rejoin_disconnect
        self.connect_failure = connect_failure
        self.recvlen_unused = recvlen_unused
        self.recvdata_crlf = recvdata_crlf
        self.ipv6_got = ipv6_got
        self.cipv6 = False           # AT+CIPV6 (not kept over a restart: AT+SYSSTORE is not modelled for it)
        self.ipv6_addresses = ()     # what the last join obtained: link-local, then global
        self.networks = dict(networks or {})
        self.network = Network(hosts, blackhole, allow_outside)
        self.rst_answer = rst_answer
        self.ipd_crlf = ipd_crlf
        self.recvdata_to_read = recvdata_to_read
        self.ssl_count = ssl_count
        self.udp_start_report = udp_start_report
        self.send_ok_delay = send_ok_delay
        self.join_delay = join_delay
        self.connect_timeout = connect_timeout
        self.passive_rearm = passive_rearm
        self.cipclose_reports_closed = cipclose_reports_closed
        self.send_max = self.profile.send_max if send_max is None else send_max
        self.rx_window = self.faults.buffer(self.profile.rx_window if rx_window is None else rx_window)
        self.joined: Optional[str] = None
        self.last_ssid: Optional[str] = None
        self.wifi_state = "idle"  # idle, connecting, got_ip, disconnected (AT+CWSTATE?, AT+CIPSTATUS)
        self.wifi_mode = 1
        self.mux = 0
        self.passive = False
        self.dinfo = False
        self.error_code = 0  # for AT+SYSLOG=1: the ERR CODE of the next ERROR
        self.links = Links(self)
        self.sending = Sending(self)
        self.ssl = EspSsl(self, client_ca, client_pki)
        if isinstance(server_timeout, bool) or not isinstance(server_timeout, int) or not 0 <= server_timeout <= 7200:
            raise ValueError(f"server_timeout is 0 to 7200 seconds, not {server_timeout!r}")
        self.settings = EspSettings(self, self.line_rate(), server_timeout, rates, hardware_flow)
        self.corrupt: Optional[str] = None  # FakeModem.corrupt_next_read
        self.handlers.update({
            "+RST": self.rst,
            "+CWMODE": self.cwmode, "+CWJAP": self.cwjap, "+CWQAP": self.cwqap, "+CIFSR": self.cifsr,
            "+CIPSTA": self.cipsta, "+CIPMUX": self.cipmux, "+CIPRECVMODE": self.ciprecvmode,
            "+CIPDINFO": self.cipdinfo, "+CIPDOMAIN": self.cipdomain,
            "+CIPSERVERMAXCONN": self.links.cipservermaxconn, "+CIPSERVER": self.links.cipserver,
            "+CIPSTART": self.links.cipstart, "+CIPSEND": self.sending.cipsend, "+CIPCLOSE": self.links.cipclose,
            "+CIPSENDEX": self.sending.cipsendex, "+CIPMODE": self.sending.cipmode_cmd,
            "+CIPRECVDATA": self.links.ciprecvdata, "+CIPRECVLEN": self.links.ciprecvlen,
            "+CIPSTATUS": self.links.cipstatus, "+CIPSTATE": self.links.cipstate,
        })
        self.handlers.update(self.settings.handlers())
        self.handlers.update(self.ssl.handlers())
        if self.major >= 2:
            self.handlers["+CIPSTARTEX"] = self.links.cipstartex
            self.handlers["+CIPV6"] = self.cipv6_cmd
        if self.profile.cur_names:  # the flash-saving variants of NonOS AT
            for name in ("+CWMODE", "+CWJAP", "+CIPSTA"):
                self.handlers[name + "_CUR"] = self.handlers[name + "_DEF"] = self.handlers[name]
        self.identity_answers = EspAnswers(self)

    # --- what the command loop asks of this dialect -----------------------------------------------
    def announce_boot(self) -> None:
        self.serial.write(esp_boot.boot_text(self.boot_noise, self.vendor_banner, self.boot_outcome))
        if self.boot_outcome == "invalid":
            self.serial.listening = False  # the AT firmware never came up: nothing is read

    def command_faults(self) -> bool:
        if super().command_faults():
            return True
        if self.faults.chance("busy"):
            self.final("busy p...")
            return True
        return False

    async def shut_down(self) -> None:
        self.links.drop_all()

    def open_ids(self):
        """The link ids in use (the server itself holds none), for tests that look inside."""
        return sorted(self.links.links)

    def host_socket(self, link_id: int):
        """The real host socket behind a link."""
        return self.links.links[link_id].bridge.transport.get_extra_info("socket")

    # --- output helpers ---------------------------------------------------------------------------
    BENIGN_URCS = ("WIFI GOT IP",)  # lines a driver must set aside

    def final(self, text: str) -> None:
        if text in ("OK", "ERROR", "SEND OK", "FAIL") and self.faults.chance("no_final"):
            return
        detail = b""
        if text == "ERROR" and self.settings.syslog:  # 2.x AT+SYSLOG=1
            detail = b"ERR CODE:0x%08x\r\n" % (self.error_code or 0x010A0000)  # default: execution failed
        self.error_code = 0
        self.serial.write(self.faults.noise(self.BENIGN_URCS) + detail + b"\r\n" + text.encode() + b"\r\n")

    def unknown_command(self, line: str) -> None:
        self.error_code = 0x01090000 if line[:2].upper() == "AT" else 0x01030000  # not supported / no AT
        self.final("ERROR")

    def bad_parameters(self, command: ATCommand) -> None:
        self.error_code = 0x01070000  # invalid parameter
        self.final("ERROR")

    def info(self, *lines: str) -> None:
        """Information lines as the firmware prints them: no leading blank line."""
        noise = self.faults.noise
        self.serial.write(b"".join(noise(self.BENIGN_URCS) + line.encode("latin-1") + b"\r\n" for line in lines))

    def reply(self, *lines: str) -> None:
        self.info(*lines)
        self.final("OK")

    def message(self, text: str) -> None:
        """An asynchronous message such as ``0,CONNECT`` or ``WIFI GOT IP``."""
        self.serial.write(text.encode("latin-1") + b"\r\n")

    def fail_detail(self, detail: str) -> None:
        """1.x explains a failure on a line of its own before ERROR; 2.x says just ERROR."""
        if self.profile.error_details and detail:
            self.info(detail)
        self.final("ERROR")

    # --- basic and Wi-Fi --------------------------------------------------------------------------
    async def ok(self, cmd: ATCommand) -> None:
        self.final("OK")

    async def rst(self, cmd: ATCommand) -> None:
        if self.rst_answer == "ERROR":  # a 2.x build that refuses to restart on command
            self.final("ERROR")
            return
        self.final("OK")
        self.restart()

    def drop_network(self, announce: bool = True) -> None:
        if self.joined is not None:
            self.drop_wifi(announce)

    def lose_registration(self, seconds: float) -> None:
        raise ValueError("a Wi-Fi module has no cellular registration; use drop_network()")

    def restart(self) -> None:
        """Reboot: links and Wi-Fi gone, settings back to power-on values, ``ready`` again."""
        self.links.drop_all()
        self.joined = None
        self.wifi_state = "idle"
        self.cipv6, self.ipv6_addresses = False, ()
        self.echo, self.mux, self.passive, self.dinfo = True, 0, False, False
        self.sending.reset()
        self.settings.after_restart()
        self.ssl.after_restart()
        super().restart()

    async def cwmode(self, cmd: ATCommand) -> None:
        if cmd.kind == "read":
            self.reply(f"{cmd.name}:{self.wifi_mode}")
            return
        mode = cmd.number(0, 0 if self.major >= 2 else 1, 3)  # 0 (Wi-Fi off) is 2.x only
        if mode not in STATION_MODES and self.joined is not None:
            self.drop_wifi()
        self.wifi_mode = mode
        self.final("OK")

    async def cwjap(self, cmd: ATCommand) -> None:
        if cmd.kind == "read":
            self.identity_answers.current_ap(cmd)
            return
        if cmd.kind != "write" or not cmd.arg(0):
            raise ValueError("AT+CWJAP needs an SSID")
        ssid, password = cmd.arg(0), cmd.arg(1, "")
        if self.wifi_mode not in STATION_MODES:
            raise ValueError("the station interface is off")
        if self.joined is not None:
            self.joined = None
            if self.rejoin_disconnect:
                self.message("WIFI DISCONNECT")
        self.wifi_state, self.last_ssid = "connecting", ssid
        await asyncio.sleep(self.join_delay)
        if ssid not in self.networks:
            code = 3  # AP not found
        elif self.networks[ssid] != password:
            code = 2  # wrong password
        else:
            self.joined, self.wifi_state = ssid, "got_ip"
            self.links.had_link = False
            self.message("WIFI CONNECTED")
            self.message("WIFI GOT IP")
            if self.ipv6_got == "before_ok":
                self._got_ipv6()
            self.final("OK")
            if self.ipv6_got != "before_ok":
                self._got_ipv6()
            return
        self.wifi_state = "disconnected"
        self.info(f"+CWJAP:{code}")
        self.final(self.profile.cwjap_failure)

    def _got_ipv6(self) -> None:
        """With AT+CIPV6=1 a join obtains a link-local address, and a global one if the AP
        advertises a prefix (``ipv6_got``)."""
        if not self.cipv6:
            return
        self.ipv6_addresses = (STATION_IP6LL,) if self.ipv6_got == "link_local_only" else (STATION_IP6LL, STATION_IP6GL)
        self.message("WIFI GOT IPv6 LL")
        if len(self.ipv6_addresses) > 1:
            self.message("WIFI GOT IPv6 GL")

    async def cipv6_cmd(self, cmd: ATCommand) -> None:
        if cmd.kind == "read":
            self.reply(f"+CIPV6:{int(self.cipv6)}")
            return
        if cmd.kind != "write":
            raise ValueError("AT+CIPV6 takes 0 or 1")
        self.cipv6 = cmd.number(0, 0, 1) == 1
        self.final("OK")

    async def cwqap(self, cmd: ATCommand) -> None:
        self.final("OK")
        if self.joined is not None:
            self.drop_wifi()

    def drop_wifi(self, announce: bool = True) -> None:
        """The AP went away (or we left it): links close with it, as 2.x does by default. The
        order of the two messages is not documented; the cause is reported before its effects."""
        self.joined = None
        self.wifi_state = "disconnected"
        self.ipv6_addresses = ()
        if announce:
            self.message("WIFI DISCONNECT")
        self.links.drop_all(report=announce)

    async def cifsr(self, cmd: ATCommand) -> None:
        ip = STATION_IP if self.joined else "0.0.0.0"
        v6 = [f'+CIFSR:{name},"{address}"' for name, address in zip(("STAIP6LL", "STAIP6GL"), self.ipv6_addresses)]
        self.reply(f'+CIFSR:STAIP,"{ip}"', *v6, f'+CIFSR:STAMAC,"{self.identity.mac}"')

    async def cipsta(self, cmd: ATCommand) -> None:
        if cmd.kind != "read":
            self.final("OK")
            return
        name = cmd.name.split("_")[0]
        if self.joined:
            v6 = [f'{name}:{key}:"{address}"' for key, address in zip(("ip6ll", "ip6gl"), self.ipv6_addresses)]
            self.reply(f'{name}:ip:"{STATION_IP}"', f'{name}:gateway:"{GATEWAY}"', f'{name}:netmask:"255.255.255.0"',
                       *v6)
        else:
            self.reply(f'{name}:ip:"0.0.0.0"', f'{name}:gateway:"0.0.0.0"', f'{name}:netmask:"0.0.0.0"')

    # --- TCP/IP settings and DNS --------------------------------------------------------------------
    async def cipmux(self, cmd: ATCommand) -> None:
        if cmd.kind == "read":
            self.reply(f"+CIPMUX:{self.mux}")
            return
        if self.links.any_open():
            self.fail_detail("link is builded")
            return
        mux = cmd.number(0, 0, 1)
        if mux and self.sending.cipmode:
            self.fail_detail("CIPMODE=1")  # multiple connections need normal transmission mode
            return
        self.mux = mux
        self.final("OK")

    async def ciprecvmode(self, cmd: ATCommand) -> None:
        if cmd.kind == "read":
            self.reply(f"+CIPRECVMODE:{int(self.passive)}")
            return
        self.passive = cmd.number(0, 0, 1) == 1
        self.final("OK")

    async def cipdinfo(self, cmd: ATCommand) -> None:
        self.dinfo = cmd.number(0, 0, 1) == 1
        self.final("OK")

    async def cipdomain(self, cmd: ATCommand) -> None:
        """``AT+CIPDOMAIN="<name>"[,<ip network>]`` (the argument is 2.x's): 1 IPv4 first, 2 IPv4
        only, 3 IPv6 only. IPv6 answers only with AT+CIPV6=1 (unconfirmed: the doc's "enable
        before use")."""
        if len(cmd.args) > (2 if self.major >= 2 else 1):
            raise ValueError("AT+CIPDOMAIN arguments")
        network = cmd.number(1, 1, 3, 1)
        found = self.network.lookup(cmd.arg(0) or "") if self.joined else []
        if network == 3 and not self.cipv6:
            found = []
        versions = {1: (4, 6, None) if self.cipv6 else (4, None), 2: (4, None), 3: (6, None)}[network]
        addresses = [a for a in found if ipv6.version(a) in versions]
        if network == 1:  # IPv4 first
            addresses.sort(key=lambda a: ipv6.version(a) == 6)
        if not addresses:
            self.fail_detail("DNS Fail")
            return
        self.reply(f'+CIPDOMAIN:"{addresses[0]}"' if self.profile.quoted_ip else f"+CIPDOMAIN:{addresses[0]}")
