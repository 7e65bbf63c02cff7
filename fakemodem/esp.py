"""An emulated ESP8266/ESP8285 (NonOS AT 1.x) or ESP-AT 2.x module, per ``shared/at-reference/esp-at.md``.

``firmware`` picks the generation ("1.7.4", the default as on ESP8285 boards, or "2.2.0"); what
differs on the wire follows it: ``_CUR`` command names, ``FAIL`` vs ``ERROR`` after ``+CWJAP:<n>``,
the ``> `` vs ``\\r\\n>`` prompt, quoted addresses in ``+IPD``/``+CIPDOMAIN``, the
``+CIPRECVDATA`` layout, passive mode for TCP only (1.x) or UDP too (2.x), ``AT+CIPSTATE?`` (2.x).

Options: ``networks`` (SSID -> password), ``hosts`` (name -> address), ``blackhole``,
``allow_outside`` (False: only loopback peers are real), ``boot_delay``, ``boot_noise`` (the 1.x
ROM banner at the wrong baud rate before ``ready``), ``join_delay``, ``connect_timeout``,
``latency`` (seconds before each command's answer), ``passive_rearm`` ("empty": a new ``+IPD``
notice only once the buffer was read empty, the default; "read": after any read),
``cipclose_reports_closed`` (True: ``<id>,CLOSED`` before the OK of AT+CIPCLOSE),
``send_max`` (2048), ``rx_window`` (5760 bytes per link, as on ESP8266).
``identity`` (identification values, see ``fakemodem/identity.py``).
Commands that arrive while one is running are answered ``busy p...`` and dropped.
"""
import asyncio
import logging
import os
from typing import Dict, Optional

from .atcommand import ATCommand
from .core import SerialSide
from .esp_links import Links
from .faults import Faults
from .identity import EspIdentity
from .module import EmulatedModule
from .network import Network

log = logging.getLogger("fakemodem.esp")

STATION_IP = "192.168.4.23"
GATEWAY = "192.168.4.1"


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
    def __init__(self, serial: SerialSide, *, firmware: str = "1.7.4", networks: Optional[Dict[str, str]] = None,
                 hosts: Optional[Dict[str, object]] = None, blackhole=(), allow_outside: bool = False,
                 boot_delay: float = 0.05, boot_noise: bool = False, echo: bool = True, join_delay: float = 0.05,
                 connect_timeout: float = 10.0, latency: float = 0.0, passive_rearm: str = "empty",
                 cipclose_reports_closed: bool = True, send_max: int = 2048, rx_window: int = 5760,
                 faults: Optional[Faults] = None, identity: Optional[dict] = None):
        super().__init__(serial, faults if faults is not None else Faults(), boot_delay=boot_delay, echo=echo,
                         latency=latency)
        serial.terminator = b"\r\n"
        serial.busy_reply = b"\r\nbusy p...\r\n"
        self.major = int(firmware.split(".")[0])
        self.firmware = firmware
        self.networks = dict(networks or {})
        self.network = Network(hosts, blackhole, allow_outside)
        self.boot_noise = boot_noise
        self.join_delay = join_delay
        self.connect_timeout = connect_timeout
        self.passive_rearm = passive_rearm
        self.cipclose_reports_closed = cipclose_reports_closed
        self.send_max = send_max
        self.rx_window = self.faults.buffer(rx_window)
        self.joined: Optional[str] = None
        self.mux = 0
        self.passive = False
        self.dinfo = False
        self.links = Links(self)
        self.corrupt: Optional[str] = None  # FakeModem.corrupt_next_read
        self.handlers.update({
            "+RST": self.rst,
            "+CWMODE": self.cwmode, "+CWJAP": self.cwjap, "+CWQAP": self.cwqap, "+CIFSR": self.cifsr,
            "+CIPSTA": self.cipsta, "+CIPMUX": self.cipmux, "+CIPRECVMODE": self.ciprecvmode,
            "+CIPDINFO": self.cipdinfo, "+CIPDOMAIN": self.cipdomain, "+CIPSTO": self.ok,
            "+CIPSERVERMAXCONN": self.links.cipservermaxconn, "+CIPSERVER": self.links.cipserver,
            "+CIPSTART": self.links.cipstart, "+CIPSEND": self.links.cipsend, "+CIPCLOSE": self.links.cipclose,
            "+CIPRECVDATA": self.links.ciprecvdata, "+CIPRECVLEN": self.links.ciprecvlen,
            "+CIPSTATUS": self.links.cipstatus, "+CIPSTATE": self.links.cipstate,
        })
        if self.major == 1:  # the flash-saving variants of NonOS AT
            for name in ("+CWMODE", "+CWJAP", "+CIPSTA"):
                self.handlers[name + "_CUR"] = self.handlers[name + "_DEF"] = self.handlers[name]
        self.identity = EspIdentity(self, **(identity or {}))

    # --- what the command loop asks of this dialect -----------------------------------------------
    def announce_boot(self) -> None:
        if self.boot_noise and self.major == 1:  # the ROM banner, at a baud rate nobody listens at
            self.serial.write(bytes([0x00, 0xE0, 0x8C, 0x7F, 0x12, 0xF0, 0x0F, 0x7C]) + os.urandom(24))
        self.serial.write(b"\r\nready\r\n")

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
        self.serial.write(self.faults.noise(self.BENIGN_URCS) + b"\r\n" + text.encode() + b"\r\n")

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
        if self.major == 1 and detail:
            self.info(detail)
        self.final("ERROR")

    # --- basic and Wi-Fi --------------------------------------------------------------------------
    async def ok(self, cmd: ATCommand) -> None:
        self.final("OK")

    async def rst(self, cmd: ATCommand) -> None:
        self.final("OK")
        self.restart()

    def drop_network(self) -> None:
        if self.joined is not None:
            self.drop_wifi()

    def lose_registration(self, seconds: float) -> None:
        raise ValueError("a Wi-Fi module has no cellular registration; use drop_network()")

    def restart(self) -> None:
        """Reboot: links and Wi-Fi gone, settings back to power-on values, ``ready`` again."""
        self.links.drop_all()
        self.joined = None
        self.echo, self.mux, self.passive, self.dinfo = True, 0, False, False
        super().restart()

    async def cwmode(self, cmd: ATCommand) -> None:
        if cmd.kind == "read":
            self.reply(f"{cmd.name.split('_')[0]}:1")
        elif cmd.int_arg(0) in (1, 2, 3) or (cmd.int_arg(0) == 0 and self.major >= 2):
            self.final("OK")
        else:
            self.final("ERROR")

    async def cwjap(self, cmd: ATCommand) -> None:
        """Joining; the query (``AT+CWJAP?``) is answered by ``fakemodem.identity``."""
        ssid, password = cmd.arg(0), cmd.arg(1, "")
        if self.joined is not None:
            self.joined = None
            self.message("WIFI DISCONNECT")
        await asyncio.sleep(self.join_delay)
        if ssid not in self.networks:
            code = 3  # AP not found
        elif self.networks[ssid] != password:
            code = 2  # wrong password
        else:
            self.joined = ssid
            self.message("WIFI CONNECTED")
            self.message("WIFI GOT IP")
            self.final("OK")
            return
        self.info(f"+CWJAP:{code}")
        self.final("FAIL" if self.major == 1 else "ERROR")

    async def cwqap(self, cmd: ATCommand) -> None:
        self.final("OK")
        if self.joined is not None:
            self.drop_wifi()

    def drop_wifi(self) -> None:
        """The AP went away (or we left it): links close with it, as 2.x does by default. The
        order of the two messages is not documented; the cause is reported before its effects."""
        self.joined = None
        self.message("WIFI DISCONNECT")
        self.links.drop_all(report=True)

    async def cifsr(self, cmd: ATCommand) -> None:
        ip = STATION_IP if self.joined else "0.0.0.0"
        self.reply(f'+CIFSR:STAIP,"{ip}"', f'+CIFSR:STAMAC,"{self.identity.values.mac}"')

    async def cipsta(self, cmd: ATCommand) -> None:
        if cmd.kind != "read":
            self.final("OK")
            return
        name = cmd.name.split("_")[0]
        if self.joined:
            self.reply(f'{name}:ip:"{STATION_IP}"', f'{name}:gateway:"{GATEWAY}"', f'{name}:netmask:"255.255.255.0"')
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
        self.mux = cmd.int_arg(0)
        self.final("OK")

    async def ciprecvmode(self, cmd: ATCommand) -> None:
        if cmd.kind == "read":
            self.reply(f"+CIPRECVMODE:{int(self.passive)}")
            return
        self.passive = cmd.int_arg(0) == 1
        self.final("OK")

    async def cipdinfo(self, cmd: ATCommand) -> None:
        self.dinfo = cmd.int_arg(0) == 1
        self.final("OK")

    async def cipdomain(self, cmd: ATCommand) -> None:
        addresses = self.network.lookup(cmd.arg(0) or "") if self.joined else []
        if not addresses:
            self.fail_detail("DNS Fail")
            return
        self.reply(f'+CIPDOMAIN:"{addresses[0]}"' if self.major >= 2 else f"+CIPDOMAIN:{addresses[0]}")
