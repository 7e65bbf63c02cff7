"""Identification and status answers of an emulated module, per ``shared/at-reference/info-and-ports.md``.

A host tool reads model, firmware, IMEI, SIM numbers, signal, operator and addresses with these
commands before (or without) opening a socket. The defaults reproduce the reference transcripts
byte for byte (§4.1 for Quectel, §4.3 and ``esp-at.md`` §1 for Espressif); every value can be
changed with ``FakeModem(dialect, identity={...})`` (``python -m fakemodem ... --identity NAME=VALUE``).

Quectel values (:class:`QuectelValues`): ``manufacturer``, ``model``, ``revision``,
``app_version`` (``AT+QGMR`` prints ``<revision>_<app_version>``), ``imei``, ``iccid``, ``imsi``,
``rssi`` and ``ber`` (``AT+CSQ``), ``sysmode`` and ``signal`` (``AT+QCSQ``: the mode and the values
after it), ``operator``, ``mccmnc``, ``act`` (``AT+COPS?``), ``technology``, ``band``, ``channel``
(``AT+QNWINFO``). While the module is not registered, the signal and operator commands answer as
with no service. ESP values (:class:`EspValues`): ``version_lines`` (``AT+GMR``; by default the
lines of the firmware generation), ``mac``, ``bssid``, ``channel``, ``rssi`` and the integers after
the RSSI in ``AT+CWJAP?`` (``tail_1x``, ``tail_2x``).

Behaviours the reference marks unconfirmed, as emulated here: ``+COPS: <mode>`` alone when not
registered; ``+QNWINFO: No Service``; ``+CGPADDR: <cid>`` without an address for a context that is
not active; 1.x prefixes the ``_CUR``/``_DEF`` query answers with the name asked for.
"""
from dataclasses import dataclass, fields
from typing import Optional, Tuple

from .atcommand import ATCommand

MAX_CONTEXT = 16


@dataclass
class QuectelValues:
    manufacturer: str = "Quectel"
    model: str = "BG95-M3"
    revision: str = "BG95M3LAR02A03"
    app_version: str = "01.006.01.006"
    imei: str = "866349041749536"
    iccid: str = "8939560000000806706F"
    imsi: str = "901405100000001"
    rssi: int = 19
    ber: int = 99
    sysmode: str = "eMTC"
    signal: Tuple[int, ...] = (-62, -87, 111, -12)
    operator: str = "Example Net"
    mccmnc: str = "24701"
    act: int = 7
    technology: str = "eMTC"
    band: str = "LTE BAND 20"
    channel: int = 6300


@dataclass
class EspValues:
    version_lines: Optional[Tuple[str, ...]] = None
    mac: str = "a4:cf:12:00:11:22"
    bssid: str = "9c:53:22:10:20:30"
    channel: int = 6
    rssi: int = -58
    tail_1x: Tuple[int, ...] = (0,)
    tail_2x: Tuple[int, ...] = (0, 1, 3, 0, 1)  # pci_en, reconn_interval, listen_interval, scan_mode, pmf


def _values(cls, given: dict):
    """The dataclass from ``given``; text from a command line (``"-62,-87"``) takes the field's type."""
    defaults = {field.name: field.default for field in fields(cls)}
    unknown = set(given) - set(defaults)
    if unknown:
        raise TypeError(f"unknown identity value(s) {', '.join(sorted(unknown))}; known: {', '.join(defaults)}")
    return cls(**{name: _convert(name, value, defaults[name]) for name, value in given.items()})


def _convert(name: str, value, default):
    if not isinstance(value, str):
        return value
    if name == "version_lines":
        return tuple(value.split("|"))
    if isinstance(default, tuple):
        return tuple(int(item) for item in value.split(","))
    if isinstance(default, int):
        return int(value)
    return value


def _reply_block(module, lines) -> None:
    """Several information lines of one answer, separated by single CRLFs (``quectel-tcpip.md`` §2.3)."""
    module.serial.write(b"\r\n" + b"\r\n".join(line.encode("latin-1") for line in lines) + b"\r\n")
    module.final("OK")


class QuectelIdentity:
    """Answers ATI, AT+GMI/GMM/GMR and their +C forms, AT+QGMR, AT+GSN/CGSN, AT+QCCID, AT+CIMI,
    AT+CSQ, AT+QCSQ, AT+COPS, AT+QNWINFO and AT+CGPADDR for a :class:`~fakemodem.quectel.QuectelModule`."""

    def __init__(self, module, **values):
        self.m = module
        self.values = _values(QuectelValues, values)
        module.handlers.update({
            "I": self.ati, "+GMI": self.manufacturer, "+CGMI": self.manufacturer,
            "+GMM": self.model, "+CGMM": self.model, "+GMR": self.revision, "+CGMR": self.revision,
            "+QGMR": self.full_revision, "+GSN": self.imei, "+CGSN": self.imei, "+QCCID": self.iccid,
            "+CIMI": self.imsi, "+CSQ": self.csq, "+QCSQ": self.qcsq, "+COPS": self.cops,
            "+QNWINFO": self.qnwinfo, "+CGPADDR": self.cgpaddr,
        })

    def _exec_only(self, cmd: ATCommand, *lines: str) -> None:
        if cmd.kind == "exec":
            self.m.reply(*lines)
        elif cmd.kind == "test":
            self.m.final("OK")
        else:
            self.m.final("ERROR")

    async def ati(self, cmd: ATCommand) -> None:
        v = self.values
        _reply_block(self.m, (v.manufacturer, v.model, f"Revision: {v.revision}"))

    async def manufacturer(self, cmd: ATCommand) -> None:
        self._exec_only(cmd, self.values.manufacturer)

    async def model(self, cmd: ATCommand) -> None:
        self._exec_only(cmd, self.values.model)

    async def revision(self, cmd: ATCommand) -> None:
        self._exec_only(cmd, self.values.revision)

    async def full_revision(self, cmd: ATCommand) -> None:
        self._exec_only(cmd, f"{self.values.revision}_{self.values.app_version}")

    async def imei(self, cmd: ATCommand) -> None:
        self._exec_only(cmd, self.values.imei)

    async def iccid(self, cmd: ATCommand) -> None:
        if self.m.sim == "absent":
            self.m.cme_error(10)  # SIM not inserted
        else:
            self._exec_only(cmd, f"+QCCID: {self.values.iccid}")

    async def imsi(self, cmd: ATCommand) -> None:
        if self.m.sim == "absent":
            self.m.cme_error(10)
        else:
            self._exec_only(cmd, self.values.imsi)

    async def csq(self, cmd: ATCommand) -> None:
        if cmd.kind == "test":
            self.m.reply("+CSQ: (0-31,99),(0-7,99)")
            return
        v = self.values
        self._exec_only(cmd, f"+CSQ: {v.rssi},{v.ber}" if self.m.registered() else "+CSQ: 99,99")

    async def qcsq(self, cmd: ATCommand) -> None:
        v = self.values
        if not self.m.registered():
            answer = '+QCSQ: "NOSERVICE"'
        else:
            answer = ",".join([f'+QCSQ: "{v.sysmode}"'] + [str(n) for n in v.signal])
        self._exec_only(cmd, answer)

    async def cops(self, cmd: ATCommand) -> None:
        v = self.values
        if cmd.kind == "read":
            self.m.reply(f'+COPS: 0,0,"{v.operator}",{v.act}' if self.m.registered() else "+COPS: 0")
        elif cmd.kind == "write" and cmd.int_arg(0) in (0, 1, 2, 3, 4):
            self.m.final("OK")
        else:
            self.m.final("ERROR")  # the network scan (AT+COPS=?) takes minutes on a module: not emulated

    async def qnwinfo(self, cmd: ATCommand) -> None:
        v = self.values
        if self.m.registered():
            self._exec_only(cmd, f'+QNWINFO: "{v.technology}","{v.mccmnc}","{v.band}",{v.channel}')
        else:
            self._exec_only(cmd, "+QNWINFO: No Service")

    async def cgpaddr(self, cmd: ATCommand) -> None:
        if cmd.kind == "write":
            wanted = [cmd.int_arg(i) for i in range(len(cmd.args))]
            if not all(1 <= cid <= MAX_CONTEXT for cid in wanted):
                raise ValueError("context id")
        elif cmd.kind == "exec":
            wanted = sorted(self.m.contexts) or [1]
        else:
            self.m.final("OK" if cmd.kind == "test" else "ERROR")
            return
        self.m.reply(*(self._address_line(cid) for cid in wanted))

    def _address_line(self, cid: int) -> str:
        return f'+CGPADDR: {cid},"{self.m.local_ip}"' if self.m.context_active(cid) else f"+CGPADDR: {cid}"


class EspIdentity:
    """Answers AT+GMR, AT+CIPSTAMAC? and AT+CWJAP? (with their 1.x ``_CUR``/``_DEF`` forms) for an
    :class:`~fakemodem.esp.EspModule`; joining (``AT+CWJAP=...``) stays with the module."""

    def __init__(self, module, **values):
        self.m = module
        self.values = _values(EspValues, values)
        if self.values.version_lines is None:
            self.values.version_lines = self._default_version_lines(module.firmware, module.major)
        join = module.handlers["+CWJAP"]

        async def cwjap(cmd: ATCommand) -> None:
            if cmd.kind == "read":
                self.current_ap(cmd)
            else:
                await join(cmd)

        variants = ("", "_CUR", "_DEF") if module.major == 1 else ("",)
        for suffix in variants:
            module.handlers["+CWJAP" + suffix] = cwjap
            module.handlers["+CIPSTAMAC" + suffix] = self.station_mac
        module.handlers["+GMR"] = self.version

    @staticmethod
    def _default_version_lines(firmware: str, major: int) -> Tuple[str, ...]:
        if major == 1:
            return (f"AT version:{firmware}.0(May 11 2020 19:13:04)", "SDK version:3.0.4(9532ceb)",
                    "compile time:May 27 2020 10:12:17", "Bin version(Wroom 02):1.7.4")
        return (f"AT version:{firmware}.0(b097cdf - ESP8266 - Jun 17 2021 12:57:45)",
                "SDK version:v3.4-22-g967752e2", "compile time(6800286):Aug  4 2021 17:34:06",
                "Bin version:2.2.0(ESP8266_1MB)")

    async def version(self, cmd: ATCommand) -> None:
        if cmd.kind == "exec":
            self.m.reply(*self.values.version_lines)
        else:
            self.m.final("ERROR")

    async def station_mac(self, cmd: ATCommand) -> None:
        if cmd.kind == "read":
            self.m.reply(f'{cmd.name}:"{self.values.mac}"')
        elif cmd.kind == "write" and cmd.arg(0):
            self.values.mac = cmd.arg(0).lower()
            self.m.final("OK")
        else:
            self.m.final("ERROR")

    def current_ap(self, cmd: ATCommand) -> None:
        if self.m.joined is None:
            self.m.reply("No AP")
            return
        v = self.values
        tail = v.tail_1x if self.m.major == 1 else v.tail_2x
        numbers = ",".join(str(n) for n in (v.channel, v.rssi) + tuple(tail))
        self.m.reply(f'{cmd.name}:"{self.m.joined}","{v.bssid}",{numbers}')
