"""Settings of the emulated Quectel module that shape answers but open no socket: AT+QICFG, the
error texts of AT+CMEE=2 and AT+QIGETERROR, and the configuration commands a driver's bring-up
sends (time-zone reporting, SMS format and storage, PDP context definition, URC port, line rate).

The QICFG names, ranges and defaults are those of quectel-tcpip.md §13; the configuration commands
answer in the 3GPP TS 27.007 / 27.005 forms (the reference does not print them), which is what the
Quectel manuals follow.
"""
from typing import Dict, Tuple

from .atcommand import ATCommand

# name -> ((low, high) for each value, defaults); the family-only names are in the profile
QICFG: Dict[str, Tuple[Tuple[Tuple[int, int], ...], Tuple[int, ...]]] = {
    "transpktsize": (((1, 1460),), (1024,)),
    "transwaittm": (((0, 20),), (2,)),
    "dataformat": (((0, 1), (0, 1)), (0, 0)),
    "viewmode": (((0, 1),), (0,)),
    "tcp/retranscfg": (((3, 20), (1, 1000)), (12, 600)),  # max_rto range and default: unconfirmed
    "passiveclosed": (((0, 1),), (0,)),
    "qisend/timeout": (((0, 120),), (5,)),
    "close/mode": (((0, 1),), (0,)),
    "sendinfo": (((0, 1),), (0,)),
}
COMMON_QICFG = frozenset({"transpktsize", "transwaittm", "dataformat", "viewmode", "tcp/retranscfg"})

# quectel-tcpip.md §10; the wording and case are unconfirmed (switch ``error_text_case``)
IP_ERRORS = {
    0: "operate successfully", 550: "unknown error", 551: "operation blocked", 552: "invalid parameters",
    553: "memory not enough", 554: "socket creation failed", 555: "operation not supported",
    556: "socket bind failed", 557: "socket listen failed", 558: "socket write failed",
    559: "socket read failed", 560: "socket accept failed", 561: "PDP context opening failed",
    562: "PDP context closure failed", 563: "socket identity has been used", 564: "DNS busy",
    565: "DNS parse failed", 566: "socket connect failed", 567: "socket has been closed",
    568: "operation busy", 569: "operation timeout", 570: "PDP context broken down", 571: "cancel sending",
    572: "operation not allowed", 573: "APN not configured", 574: "port busy",
}
# 3GPP TS 27.007 §9.2 texts of the +CME ERROR codes the emulator gives
CME_ERRORS = {3: "operation not allowed", 4: "operation not supported", 10: "SIM not inserted",
              11: "SIM PIN required", 12: "SIM PUK required", 13: "SIM failure", 14: "SIM busy",
              16: "incorrect password", 30: "no network service", 50: "incorrect parameters",
              # the file system's (405, 407 from the reference; the texts and the rest are the emulator's)
              405: "file not found", 406: "invalid file name", 407: "file already exists", 420: "no space",
              421: "time out"}


def error_text(code: int, case: str = "lower") -> str:
    text = IP_ERRORS.get(code) or CME_ERRORS.get(code) or "unknown error"
    return text[:1].upper() + text[1:] if case == "capitalized" else text


class QiSettings:
    """AT+QICFG: write ``AT+QICFG="<name>",<values>`` -> OK; query ``AT+QICFG="<name>"`` ->
    ``+QICFG: "<name>",<values>``. "recvind" and "tcp/keepalive" are the module's own."""

    def __init__(self, profile):
        self.names = COMMON_QICFG | profile.qicfg_extra
        self.values = {name: QICFG[name][1] for name in self.names}

    def __getitem__(self, name: str) -> Tuple[int, ...]:
        return self.values[name]

    def get(self, name: str, default=None):
        """The values of a name this family may not have."""
        return self.values.get(name, default)

    def answer(self, cmd: ATCommand):
        """The information line of a query, or None after a write; ValueError if not valid."""
        name = (cmd.arg(0) or "").lower()
        if name not in self.names or not cmd.quoted[0]:
            raise ValueError(f"no QICFG option {name!r}")
        ranges, _ = QICFG[name]
        if len(cmd.args) == 1:
            return f'+QICFG: "{name}",' + ",".join(map(str, self.values[name]))
        if len(cmd.args) - 1 != len(ranges):
            raise ValueError(f"QICFG {name}: {len(ranges)} values")
        self.values[name] = tuple(cmd.number(i + 1, low, high) for i, (low, high) in enumerate(ranges))
        return None


class BringUp:
    """Configuration commands that change no socket; each answers as 27.007/27.005 say."""

    STORAGES = ("SM", "ME", "MT")

    def __init__(self, module):
        self.m = module
        self.values = {"+CTZR": 0, "+CTZU": 0, "+CMGF": 0, "+CSCS": "GSM", "+CNMI": (2, 1, 0, 0, 0),
                       "+CPMS": ("SM", "SM", "SM"), "urcport": "uart1"}
        self.pdp: Dict[int, Tuple[str, str]] = {1: ("IP", "")}  # AT+CGDCONT: cid -> (type, APN)

    def test_answers(self):
        listed = "(" + ",".join(f'"{s}"' for s in self.STORAGES) + ")"
        return {"+CTZR": ["+CTZR: (0-2)"], "+CTZU": ["+CTZU: (0-1)"], "+CMGF": ["+CMGF: (0-1)"],
                "+CSCS": ['+CSCS: ("GSM","IRA","UCS2")'], "+CPMS": [f"+CPMS: {listed},{listed},{listed}"],
                "+CGATT": ["+CGATT: (0-1)"]}

    def handlers(self):
        return {"+CTZR": self.flag, "+CTZU": self.flag, "+CMGF": self.flag, "+CSCS": self.cscs,
                "+CNMI": self.cnmi, "+CPMS": self.cpms, "+CGDCONT": self.cgdcont, "+CGATT": self.cgatt,
                "+QURCCFG": self.qurccfg}

    async def flag(self, cmd: ATCommand) -> None:
        """AT+CTZR / AT+CTZU (0-2 / 0-1) and AT+CMGF (0 PDU, 1 text)."""
        high = 2 if cmd.name == "+CTZR" else 1
        if cmd.kind == "read":
            self.m.reply(f"{cmd.name}: {self.values[cmd.name]}")
        else:
            self.values[cmd.name] = cmd.number(0, 0, high)
            self.m.final("OK")

    async def cscs(self, cmd: ATCommand) -> None:
        sets = ("GSM", "IRA", "UCS2")
        if cmd.kind == "read":
            self.m.reply(f'+CSCS: "{self.values["+CSCS"]}"')
        elif cmd.arg(0) in sets:
            self.values["+CSCS"] = cmd.arg(0)
            self.m.final("OK")
        else:
            raise ValueError("character set")

    async def cnmi(self, cmd: ATCommand) -> None:
        if cmd.kind == "read":
            self.m.reply("+CNMI: " + ",".join(map(str, self.values["+CNMI"])))
            return
        limits = ((0, 2), (0, 3), (0, 3), (0, 2), (0, 1))
        current = self.values["+CNMI"]
        self.values["+CNMI"] = tuple(cmd.number(i, low, high, current[i]) for i, (low, high) in enumerate(limits))
        if len(cmd.args) > 5:
            raise ValueError("CNMI takes five values")
        self.m.final("OK")

    async def cpms(self, cmd: ATCommand) -> None:
        """Message storage: no messages in a 50-slot SIM store."""
        if cmd.kind == "write":
            wanted = tuple(cmd.arg(i) for i in range(len(cmd.args)))
            if not 1 <= len(wanted) <= 3 or any(s not in self.STORAGES for s in wanted):
                raise ValueError("message storage")
            self.values["+CPMS"] = wanted + self.values["+CPMS"][len(wanted):]
            self.m.reply("+CPMS: " + ",".join("0,50" for _ in self.values["+CPMS"]))
        else:
            self.m.reply("+CPMS: " + ",".join(f'"{s}",0,50' for s in self.values["+CPMS"]))

    async def cgdcont(self, cmd: ATCommand) -> None:
        if cmd.kind == "read":
            self.m.reply(*[f'+CGDCONT: {cid},"{kind}","{apn}","0.0.0.0",0,0'
                           for cid, (kind, apn) in sorted(self.pdp.items())])
            return
        cid = cmd.number(0, 1, self.m.profile.contexts)
        if len(cmd.args) == 1:
            self.pdp.pop(cid, None)
        else:
            kind = cmd.arg(1)
            if kind not in ("IP", "IPV6", "IPV4V6"):
                raise ValueError("PDP type")
            self.pdp[cid] = (kind, cmd.arg(2, ""))
        self.m.final("OK")

    async def cgatt(self, cmd: ATCommand) -> None:
        if cmd.kind == "read":
            self.m.reply(f"+CGATT: {int(self.m.registered())}")
        else:
            cmd.number(0, 0, 1)
            self.m.final("OK")

    async def qurccfg(self, cmd: ATCommand) -> None:
        """AT+QURCCFG="urcport"[,"<port>"] (info-and-ports.md §1.7)."""
        if (cmd.arg(0) or "").lower() != "urcport":
            raise ValueError("QURCCFG option")
        if len(cmd.args) == 1:
            self.m.reply(f'+QURCCFG: "urcport","{self.values["urcport"]}"')
            return
        if cmd.arg(1) not in ("usbat", "usbmodem", "uart1"):
            raise ValueError("URC port")
        self.values["urcport"] = cmd.arg(1)
        self.m.final("OK")
