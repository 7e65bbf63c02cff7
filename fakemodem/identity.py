"""Identification and status answers of an emulated module, per ``shared/at-reference/info-and-ports.md``.

A host tool reads model, firmware, IMEI, SIM numbers, signal, operator and addresses with these
commands before (or without) opening a socket. The values are the module's profile
(``module.identity`` and ``module.radio``, :mod:`fakemodem.profiles`, chosen by ``model`` or
``firmware``); the BG95 profile and both ESP profiles answer as the reference transcripts (§4.1,
§4.3, ``esp-at.md`` §1) byte for byte. ``FakeModem(dialect, identity={...})`` (``python -m fakemodem
... --identity NAME=VALUE``) replaces any field of either by its name (:func:`customised`).

Behaviours the reference marks unconfirmed, as emulated here: ``+COPS: <mode>`` alone when not
registered; ``+QNWINFO: No Service``; ``+CGPADDR: <cid>`` without an address for a context that is
not active; 1.x prefixes the ``_CUR``/``_DEF`` query answers with the name asked for. ``AT+COPS=?``
(a network scan of minutes on a module) is not emulated and answers ERROR.
"""
import dataclasses
import re
import typing
from typing import Dict, Tuple

from .atcommand import ATCommand
from .profiles import Identity, Radio

#: field name -> its type, for every value ``identity={...}`` may replace
FIELDS: Dict[str, object] = {field.name: field.type for cls in (Identity, Radio) for field in dataclasses.fields(cls)}
#: the settings printed after the RSSI in AT+CWJAP? (1.x: one number; 2.x: pci_en, reconn_interval,
#: listen_interval, scan_mode, pmf), at their power-on values
CWJAP_TAIL = {1: (0,), 2: (0, 1, 3, 0, 1)}
_MAC = re.compile(r"^[0-9a-f]{2}(?::[0-9a-f]{2}){5}$")


def value(name: str, given):
    """``given`` as the field ``name`` holds it; text (from a command line) takes the field's type:
    ``"-62,-87"`` for numbers, ``"line 1|line 2"`` for lines. TypeError/ValueError if it does not fit."""
    if name not in FIELDS:
        raise TypeError(f"unknown identity value {name!r}; known: {', '.join(FIELDS)}")
    kind = FIELDS[name]
    if kind is str:
        return _text(name, given)
    if kind is int:
        return _integer(name, given)
    item = typing.get_args(kind)[0]
    if isinstance(given, str):
        given = given.split("|" if item is str else ",")
    items = tuple(_text(name, part) if item is str else _integer(name, part) for part in given)
    if ... not in typing.get_args(kind) and len(items) != len(typing.get_args(kind)):
        raise ValueError(f"{name} takes {len(typing.get_args(kind))} numbers, not {len(items)}")
    return items


def _text(name: str, given) -> str:
    """Printable ASCII without a double quote: it goes into answer lines, some of them quoted."""
    if not isinstance(given, str) or any(not " " <= ch <= "~" or ch == '"' for ch in given):
        raise ValueError(f"{name} must be printable ASCII text without a double quote, not {given!r}")
    return given


def _integer(name: str, given) -> int:
    if isinstance(given, bool) or not isinstance(given, (int, str)):
        raise TypeError(f"{name} must be an integer, not {given!r}")
    return int(given)


def customised(identity: Identity, radio: Radio, given: Dict[str, object]) -> Tuple[Identity, Radio]:
    """The profile's ``identity`` and ``radio`` with the fields named in ``given`` replaced."""
    values = {name: value(name, item) for name, item in given.items()}
    own = {field.name for field in dataclasses.fields(Identity)}
    return (dataclasses.replace(identity, **{k: v for k, v in values.items() if k in own}),
            dataclasses.replace(radio, **{k: v for k, v in values.items() if k not in own}))


def reply_block(module, lines) -> None:
    """Several information lines of one answer, separated by single CRLFs (``quectel-tcpip.md`` §2.3)."""
    module.serial.write(b"\r\n" + b"\r\n".join(line.encode("latin-1") for line in lines) + b"\r\n")
    module.final("OK")


class QuectelAnswers:
    """ATI, AT+GMI/GMM/GMR and their +C forms, AT+QGMR, AT+GSN/CGSN, AT+QCCID, AT+CIMI, AT+CSQ,
    AT+QCSQ, AT+COPS, AT+QNWINFO and AT+CGPADDR of a :class:`~fakemodem.quectel.QuectelModule`."""

    def __init__(self, module):
        self.m = module
        module.handlers.update({
            "I": self.ati, "+GMI": self.manufacturer, "+CGMI": self.manufacturer,
            "+GMM": self.model, "+CGMM": self.model, "+GMR": self.revision, "+CGMR": self.revision,
            "+QGMR": self.full_revision, "+GSN": self.imei, "+CGSN": self.imei, "+QCCID": self.iccid,
            "+CIMI": self.imsi, "+CSQ": self.csq, "+QCSQ": self.qcsq, "+COPS": self.cops,
            "+QNWINFO": self.qnwinfo, "+CGPADDR": self.cgpaddr,
        })
        module.test_answers.update({"+CSQ": ["+CSQ: (0-31,99),(0-7,99)"], "+COPS": None})

    def _exec_only(self, cmd: ATCommand, *lines: str) -> None:
        if cmd.kind == "exec":
            self.m.reply(*lines)
        else:
            self.m.final("ERROR")

    async def ati(self, cmd: ATCommand) -> None:
        reply_block(self.m, self.m.identity.ati_lines)

    async def manufacturer(self, cmd: ATCommand) -> None:
        self._exec_only(cmd, self.m.identity.manufacturer)

    async def model(self, cmd: ATCommand) -> None:
        self._exec_only(cmd, self.m.identity.model)

    async def revision(self, cmd: ATCommand) -> None:
        self._exec_only(cmd, self.m.identity.revision)

    async def full_revision(self, cmd: ATCommand) -> None:
        self._exec_only(cmd, f"{self.m.identity.revision}_{self.m.identity.app_version}")

    async def imei(self, cmd: ATCommand) -> None:
        self._exec_only(cmd, self.m.identity.imei)

    async def iccid(self, cmd: ATCommand) -> None:
        if self.m.sim.state == "absent":
            self.m.cme_error(10)  # SIM not inserted (the ICCID needs no PIN)
        else:
            self._exec_only(cmd, f"+QCCID: {self.m.identity.iccid}")

    async def imsi(self, cmd: ATCommand) -> None:
        refusal = self.m.sim.refusal()  # the IMSI is behind the PIN
        if refusal:
            self.m.cme_error(refusal)
        else:
            self._exec_only(cmd, self.m.identity.imsi)

    async def csq(self, cmd: ATCommand) -> None:
        rssi, ber = self.m.radio.csq if self.m.network_registration.has_cell() else (99, 99)
        self._exec_only(cmd, f"+CSQ: {rssi},{ber}")

    async def qcsq(self, cmd: ATCommand) -> None:
        radio = self.m.radio
        if not self.m.registered():
            answer = '+QCSQ: "NOSERVICE"'
        else:
            answer = ",".join([f'+QCSQ: "{radio.sysmode}"'] + [str(n) for n in radio.signal])
        self._exec_only(cmd, answer)

    async def cops(self, cmd: ATCommand) -> None:
        radio = self.m.radio
        if cmd.kind == "read":
            self.m.reply(f'+COPS: 0,0,"{radio.operator}",{radio.cops_act}' if self.m.registered() else "+COPS: 0")
        elif cmd.kind == "write":
            cmd.number(0, 0, 4)
            self.m.final("OK")
        else:
            self.m.final("ERROR")

    async def qnwinfo(self, cmd: ATCommand) -> None:
        radio = self.m.radio
        if self.m.registered():
            self._exec_only(cmd, f'+QNWINFO: "{radio.act}","{radio.operator_numeric}","{radio.band}",{radio.channel}')
        else:
            self._exec_only(cmd, "+QNWINFO: No Service")

    async def cgpaddr(self, cmd: ATCommand) -> None:
        if cmd.kind == "write":
            wanted = [cmd.number(i, 1, self.m.profile.contexts) for i in range(len(cmd.args))]
        elif cmd.kind == "exec":
            wanted = sorted(self.m.contexts) or [1]
        else:
            self.m.final("ERROR")
            return
        self.m.reply(*(self._address_line(cid) for cid in wanted))

    def _address_line(self, cid: int) -> str:
        return f'+CGPADDR: {cid},"{self.m.local_ip}"' if self.m.context_active(cid) else f"+CGPADDR: {cid}"


class EspAnswers:
    """AT+GMR, AT+CIPSTAMAC (with the 1.x ``_CUR``/``_DEF`` names) and the query AT+CWJAP? of an
    :class:`~fakemodem.esp.EspModule`; joining (``AT+CWJAP=...``) stays with the module, which
    hands its query form to :meth:`current_ap`."""

    def __init__(self, module):
        self.m = module
        module.handlers["+GMR"] = self.version
        module.handlers["+CIPSTAMAC"] = self.station_mac
        if module.profile.cur_names:
            module.handlers["+CIPSTAMAC_CUR"] = module.handlers["+CIPSTAMAC_DEF"] = self.station_mac

    async def version(self, cmd: ATCommand) -> None:
        if cmd.kind != "exec":
            self.m.final("ERROR")
        elif self.m.gmr_style == "ai-thinker":  # AT 1.2/1.3 by AI-Thinker: OK straight after the last line
            self.m.info(*self.m.identity.gmr_lines)
            self.m.serial.write(b"OK\r\n")
        else:
            self.m.reply(*self.m.identity.gmr_lines)

    async def station_mac(self, cmd: ATCommand) -> None:
        if cmd.kind == "read":
            self.m.reply(f'{cmd.name}:"{self.m.identity.mac}"')
        elif cmd.kind == "write":
            mac = (cmd.arg(0) or "").lower()
            if not _MAC.match(mac):
                raise ValueError(f"not a MAC address: {cmd.arg(0)!r}")
            self.m.identity = dataclasses.replace(self.m.identity, mac=mac)
            self.m.final("OK")
        else:
            self.m.final("ERROR")

    def current_ap(self, cmd: ATCommand) -> None:
        if self.m.joined is None:
            self.m.reply("No AP")
            return
        radio = self.m.radio
        numbers = ",".join(str(n) for n in (radio.channel, radio.rssi) + CWJAP_TAIL[self.m.major])
        self.m.reply(f'{cmd.name}:"{self.m.joined}","{radio.bssid}",{numbers}')
