"""Readers of identification and status answers (``shared/at-reference/info-and-ports.md``).

Each function takes the information lines of one command's answer (as :class:`atsock.ATResult`
gives them) and returns plain values, or None where the answer does not carry them; an answer in
an unexpected shape is never an exception, because ``atsock info`` must show what it can of a
module it has never seen.

Signal bars (0-4) are our own mapping, one per kind of reading:

* cellular RSSI (``AT+CSQ``, dBm = -113 + 2 * rssi): >= -73 -> 4, >= -83 -> 3, >= -93 -> 2,
  >= -109 -> 1, else 0 (the usual "excellent / good / OK / marginal" CSQ classes 20, 15, 10, 2);
* LTE RSRP (``AT+QCSQ`` on an LTE-family system, preferred when present): >= -85 -> 4,
  >= -95 -> 3, >= -105 -> 2, >= -115 -> 1, else 0;
* Wi-Fi RSSI (``AT+CWJAP?``): >= -55 -> 4, >= -66 -> 3, >= -77 -> 2, >= -88 -> 1, else 0.
"""
import re
from typing import Dict, List, Optional, Sequence

from ..core import registration as registration_words
from ..wire.fields import split_fields

Lines = Sequence[str]

CELL_RSSI_STEPS = (-109, -93, -83, -73)
LTE_RSRP_STEPS = (-115, -105, -95, -85)
WIFI_RSSI_STEPS = (-88, -77, -66, -55)

#: AT+QCSQ system modes whose values are <rssi>,<rsrp>,<sinr>,<rsrq> (BG96 and BG95 names; "LTE" of
#: EC2x is assumed to have the same layout)
LTE_MODES = frozenset({"CAT-M1", "CAT-NB1", "EMTC", "NBIOT", "LTE"})

ACCESS_TECHNOLOGIES = {0: "GSM", 2: "UTRAN", 3: "GSM/EGPRS", 4: "UTRAN/HSDPA", 5: "UTRAN/HSUPA",
                       6: "UTRAN/HSPA", 7: "LTE", 8: "LTE Cat-M1", 9: "LTE Cat-NB1"}
OPERATOR_MODES = {0: "automatic", 1: "manual", 2: "deregistered", 3: "format only", 4: "manual/automatic"}

_CWJAP = re.compile(r'^\+CWJAP(?:_CUR|_DEF)?:"(?P<ssid>.*)","(?P<bssid>[0-9A-Fa-f]{2}(?::[0-9A-Fa-f]{2}){5})",'
                    r"(?P<numbers>-?\d+(?:,-?\d+)*)$")
_VERSION = re.compile(r"^AT version:(?P<version>[0-9.]+)(?P<rest>.*)$")


def bars(value: Optional[int], steps: Sequence[int]) -> Optional[int]:
    if value is None:
        return None
    return sum(1 for step in steps if value >= step)


def _int(text: str) -> Optional[int]:
    try:
        return int(text)
    except (TypeError, ValueError):
        return None


def _values(lines: Lines, prefix: str) -> List[str]:
    return [line[len(prefix):].strip() for line in lines if line.startswith(prefix)]


def _first(lines: Lines, prefix: str) -> Optional[List[str]]:
    found = _values(lines, prefix)
    return split_fields(found[0]) if found else None


def bare_value(lines: Lines) -> Optional[str]:
    """The first non-empty line: ``AT+GSN``, ``AT+CIMI``, ``AT+GMR`` and ``AT+QGMR`` answer so."""
    for line in lines:
        if line.strip():
            return line.strip()
    return None


def ati(lines: Lines) -> Dict[str, Optional[str]]:
    """``Quectel`` / ``<model>`` / ``Revision: <fw>``."""
    text = [line.strip() for line in lines if line.strip()]
    revision = next((line[len("Revision:"):].strip() for line in text if line.startswith("Revision:")), None)
    plain = [line for line in text if not line.startswith("Revision:")]
    return {"manufacturer": plain[0] if plain else None, "model": plain[1] if len(plain) > 1 else None,
            "revision": revision}


def iccid(lines: Lines) -> Optional[str]:
    found = _values(lines, "+QCCID:") or _values(lines, "+CCID:")
    return found[0].strip('"') if found else None


def csq(lines: Lines) -> Optional[dict]:
    fields = _first(lines, "+CSQ:")
    if not fields:
        return None
    rssi = _int(fields[0])
    dbm = registration_words.csq_dbm(rssi)
    return {"rssi": rssi, "ber": _int(fields[1]) if len(fields) > 1 else None, "dbm": dbm,
            "bars": bars(dbm, CELL_RSSI_STEPS)}


def qcsq(lines: Lines) -> Optional[dict]:
    """``+QCSQ: "<sysmode>"[,<values>]``: the layout follows the mode (GSM: rssi only)."""
    fields = _first(lines, "+QCSQ:")
    if not fields:
        return None
    mode, numbers = fields[0], [_int(value) for value in fields[1:]]
    result = {"mode": mode, "rssi": None, "rsrp": None, "sinr_db": None, "rsrq": None, "bars": None,
              "values": numbers}
    if mode.upper() == "GSM" and numbers:
        result["rssi"] = numbers[0]
        result["bars"] = bars(numbers[0], CELL_RSSI_STEPS)
    elif mode.upper() in LTE_MODES and len(numbers) >= 4:
        rssi, rsrp, sinr, rsrq = numbers[:4]
        result.update(rssi=rssi, rsrp=rsrp, rsrq=rsrq, bars=bars(rsrp, LTE_RSRP_STEPS),
                      sinr_db=None if sinr is None else round(sinr / 5 - 20, 1))
    return result


def cops(lines: Lines) -> Optional[dict]:
    """``+COPS: <mode>[,<format>,"<oper>"[,<AcT>]]``."""
    fields = _first(lines, "+COPS:")
    if not fields:
        return None
    mode = _int(fields[0])
    act = _int(fields[3]) if len(fields) > 3 else None
    return {"mode": OPERATOR_MODES.get(mode, fields[0]), "format": _int(fields[1]) if len(fields) > 1 else None,
            "operator": fields[2] if len(fields) > 2 else None, "act": act,
            "technology": ACCESS_TECHNOLOGIES.get(act) if act is not None else None}


def qnwinfo(lines: Lines) -> Optional[dict]:
    """``+QNWINFO: "<act>","<oper>","<band>",<channel>``, or a line without fields (no service)."""
    fields = _first(lines, "+QNWINFO:")
    if not fields:
        return None
    if len(fields) < 4:
        return {"technology": None, "mccmnc": None, "band": None, "channel": None, "text": ",".join(fields)}
    return {"technology": fields[0], "mccmnc": fields[1], "band": fields[2], "channel": _int(fields[3]),
            "text": None}


def registration(lines: Lines, prefix: str) -> Optional[dict]:
    """``+CEREG: <n>,<stat>[,...]`` (read form: the report mode comes first)."""
    fields = _first(lines, prefix)
    if not fields or len(fields) < 2:
        return None
    stat = _int(fields[1])
    return {"stat": stat, "state": registration_words.words(stat), "registered": stat in registration_words.REGISTERED}


#: +CPIN: <code> -> the SIM's state in words (3GPP 27.007 §8.3)
SIM_STATES = {"READY": "ready", "SIM PIN": "locked: it waits for its PIN",
              "SIM PUK": "blocked: it waits for its PUK (too many wrong PINs)",
              "SIM PIN2": "waits for PIN2", "SIM PUK2": "waits for PUK2", "PH-SIM PIN": "waits for the phone-to-SIM password"}


def cpin(lines: Lines) -> Optional[dict]:
    """``+CPIN: READY`` / ``+CPIN: SIM PIN``...: the code and what it means."""
    found = _values(lines, "+CPIN:")
    if not found:
        return None
    return {"code": found[0], "state": SIM_STATES.get(found[0], found[0])}


def qicsgp(lines: Lines) -> Optional[dict]:
    """``+QICSGP: <type>,"<apn>","<user>","<password>",<auth>``; the password is left out on purpose."""
    fields = _first(lines, "+QICSGP:")
    if not fields or len(fields) < 2:
        return None
    types = {1: "IPv4", 2: "IPv6", 3: "IPv4v6"}
    return {"type": types.get(_int(fields[0]), fields[0]), "apn": fields[1],
            "user": fields[2] if len(fields) > 2 else None}


def qiact(lines: Lines) -> Dict[int, List[str]]:
    """Active contexts: ``+QIACT: <ctx>,<state>,<type>[,"<v4>"][,"<v6>"]`` -> {ctx: [addresses]}."""
    active = {}
    for value in _values(lines, "+QIACT:"):
        fields = split_fields(value)
        ctx, state = _int(fields[0]), _int(fields[1]) if len(fields) > 1 else None
        if ctx is not None and state == 1:
            active[ctx] = [address for address in fields[3:] if address]
    return active


def cgpaddr(lines: Lines) -> Dict[int, Optional[str]]:
    addresses = {}
    for value in _values(lines, "+CGPADDR:"):
        fields = split_fields(value)
        ctx = _int(fields[0])
        if ctx is not None:
            addresses[ctx] = fields[1] if len(fields) > 1 and fields[1] else None
    return addresses


# --- Espressif -----------------------------------------------------------------------------------
def gmr(lines: Lines) -> Optional[dict]:
    """``AT version:…`` and the lines after it; the generation is the version's major number."""
    result = {"at_version": None, "generation": None, "chip": None, "sdk": None, "compile_time": None,
              "bin_version": None, "module": None}
    for line in (line.strip() for line in lines):
        match = _VERSION.match(line)
        if match:
            result["at_version"] = match.group("version").rstrip(".")
            result["generation"] = _int(result["at_version"].split(".")[0])
            inside = re.search(r"\((.*)\)", match.group("rest"))
            parts = [part.strip() for part in inside.group(1).split(" - ")] if inside else []
            if len(parts) >= 3:  # 2.x: (<commit> - <chip> - <date>)
                result["chip"] = parts[1]
        elif line.startswith("SDK version:"):
            result["sdk"] = line[len("SDK version:"):]
        elif line.startswith("compile time"):
            result["compile_time"] = line.partition(":")[2]
        elif line.startswith("Bin version"):
            result["bin_version"] = line.partition(":")[2]
            module = re.search(r"\(([^)]*)\)\s*$", result["bin_version"])
            result["module"] = module.group(1) if module else None
    return result if result["at_version"] else None


def station_mac(lines: Lines) -> Optional[str]:
    """``+CIPSTAMAC:"aa:bb:…"`` (or ``+CIPSTAMAC_CUR:``, quoted or not)."""
    for line in lines:
        if line.startswith("+CIPSTAMAC"):
            return line.partition(":")[2].strip().strip('"').lower() or None
    return None


def current_ap(lines: Lines) -> Optional[dict]:
    """``+CWJAP:"<ssid>","<bssid>",<channel>,<rssi>[,…]``, read from the right so that an SSID with
    quotes or commas in it stays whole; None for ``No AP`` (not joined)."""
    for line in lines:
        match = _CWJAP.match(line.strip())
        if match:
            numbers = [int(n) for n in match.group("numbers").split(",")]
            rssi = numbers[1] if len(numbers) > 1 else None
            return {"ssid": match.group("ssid"), "bssid": match.group("bssid").lower(), "channel": numbers[0],
                    "rssi": rssi, "bars": bars(rssi, WIFI_RSSI_STEPS)}
    return None


def station_addresses(lines: Lines) -> Dict[str, str]:
    """``+CIPSTA:ip:"…"`` / ``gateway`` / ``netmask`` (1.x ``+CIPSTA_CUR:``) -> {"ip": …, …}."""
    found = {}
    for line in lines:
        if line.startswith("+CIPSTA"):
            key, _, value = line.partition(":")[2].partition(":")
            found[key.strip()] = value.strip().strip('"')
    return found


def cifsr(lines: Lines) -> Dict[str, str]:
    """``+CIFSR:STAIP,"…"`` / ``+CIFSR:STAMAC,"…"`` -> {"STAIP": …, "STAMAC": …}."""
    found = {}
    for value in _values(lines, "+CIFSR:"):
        fields = split_fields(value)
        if len(fields) > 1:
            found[fields[0]] = fields[1]
    return found


def module_flow(lines: Lines, prefix: str) -> Optional[bool]:
    """Whether the module runs RTS/CTS: ``+IFC: 2,2`` (Quectel) or the last field of
    ``+UART_CUR:<baud>,8,1,0,<flow>`` (ESP-AT, 3 for both lines); None where it did not say."""
    fields = _first(lines, prefix)
    if not fields:
        return None
    if prefix == "+IFC:":
        return len(fields) == 2 and fields == ["2", "2"]
    return len(fields) == 5 and _int(fields[4]) == 3
