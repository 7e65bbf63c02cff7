"""Per-module profiles: what differs between the modules a dialect covers, as plain tables.

``FakeModem("quectel", model="BG95")`` and ``FakeModem("esp8285", firmware="2.2")`` pick a row
here. A profile holds the module's limits (contexts, sockets, send and read sizes), the exact bytes
of its data prompt, the quirks ``shared/at-reference/`` gives for that family, and what the module
says about itself (:class:`Identity`, :class:`Radio`) for the identification and status commands.
Values marked unconfirmed in the reference are listed in each profile's ``unconfirmed`` so that
fakemodem/README.md can name them; each has an option of the dialect that overrides it.
"""
import re
from dataclasses import dataclass
from typing import Dict, FrozenSet, Tuple


@dataclass(frozen=True)
class Identity:
    """What a module says about itself (info-and-ports.md §1, §3).

    ``manufacturer``  AT+CGMI / AT+GMI, and the first ATI line on Quectel
    ``model``         AT+CGMM / AT+GMM, and the second ATI line
    ``revision``      the firmware revision alone: AT+GMR / AT+CGMR on Quectel; the AT version on ESP
    ``app_version``   Quectel: AT+QGMR answers ``<revision>_<app_version>``
    ``gmr_lines``     ESP: the information lines of AT+GMR, in order
    ``imei``, ``iccid``, ``imsi``   AT+GSN, AT+QCCID, AT+CIMI (Quectel)
    ``mac``           ESP station MAC (AT+CIPSTAMAC?, AT+CIFSR), lower-case with colons
    """
    manufacturer: str
    model: str
    revision: str
    app_version: str = ""
    gmr_lines: Tuple[str, ...] = ()
    imei: str = ""
    iccid: str = ""
    imsi: str = ""
    mac: str = ""

    @property
    def ati_lines(self) -> Tuple[str, ...]:
        """Quectel's ATI: manufacturer, model and ``Revision: <revision>``, on lines of their own."""
        return (self.manufacturer, self.model, f"Revision: {self.revision}")


@dataclass(frozen=True)
class Radio:
    """The serving network as the module reports it (info-and-ports.md §1.3–1.5, §3.3).

    Quectel: ``sysmode`` is AT+QCSQ's system-mode name, ``signal`` its values after the mode;
    ``act`` the AT+QNWINFO technology text, ``operator``/``operator_numeric`` AT+COPS / AT+QNWINFO
    names, ``cops_act`` the <AcT> of AT+COPS?, ``band``/``channel`` AT+QNWINFO's last fields,
    ``csq`` AT+CSQ's (rssi, ber), ``area_code``/``cell_id`` the <lac>/<tac> and <ci> hex strings
    of AT+CREG/CGREG/CEREG at report level 2. ESP: ``bssid``, ``channel`` and ``rssi`` describe
    the joined access point for AT+CWJAP?.
    """
    csq: Tuple[int, int] = (20, 99)
    sysmode: str = ""
    signal: Tuple[int, ...] = ()
    act: str = ""
    operator: str = ""
    operator_numeric: str = ""
    cops_act: int = 7
    band: str = ""
    channel: int = 0
    area_code: str = "1A2B"
    cell_id: str = "01C2D3E4"
    bssid: str = ""
    rssi: int = 0


@dataclass(frozen=True)
class QuectelProfile:
    model: str
    identity: Identity
    radio: Radio
    contexts: int = 16                 # contextIDs 1..contexts
    connect_ids: int = 12              # connectIDs 0..connect_ids-1
    max_send: int = 1460               # AT+QISEND <len>
    max_read: int = 1500               # AT+QIRD <len>
    prompt: bytes = b"\r\n> "          # after AT+QISEND, before the payload
    boot_urcs: Tuple[str, ...] = ("RDY", "+CFUN: 1", "+CPIN: READY", "+QIND: SMS DONE")
    recvind: bool = True               # AT+QICFG="recvind" exists (the recv URC may carry a length)
    keepalive_idle: Tuple[int, int, int] = (1, 120, 60)  # AT+QICFG="tcp/keepalive" idle: low, high, s per unit
    transwaittm_unit: float = 0.1      # seconds per unit of AT+QICFG="transwaittm"
    qicfg_extra: FrozenSet[str] = frozenset()  # QICFG names only this family has
    qsslcfg_extra: FrozenSet[str] = frozenset()  # QSSLCFG names only this family has
    unconfirmed: FrozenSet[str] = frozenset()


@dataclass(frozen=True)
class EspProfile:
    generation: str                    # "1.7" or "2.2"
    major: int
    version: str                       # the full version AT+GMR reports unless told another
    identity: Identity
    radio: Radio
    send_max: int = 2048               # AT+CIPSEND / AT+CIPSENDEX <len>
    frame_max: int = 1460              # bytes of TCP data per +IPD frame
    prompt: bytes = b"\r\nOK\r\n> "    # after AT+CIPSEND, before the payload
    links: int = 5                     # link ids 0..links-1 with AT+CIPMUX=1
    rx_window: int = 5760              # per-link receive window (passive mode), ESP8266
    cur_names: bool = True             # AT+CWMODE_CUR, AT+CWJAP_CUR... exist
    error_details: bool = True         # a line of detail before ERROR ("link is not valid"...)
    cwjap_failure: str = "FAIL"        # the result after +CWJAP:<code>
    quoted_ip: bool = False            # +IPD,...,"<ip>",<port> and +CIPDOMAIN:"<ip>"
    passive_udp: bool = False          # passive receive covers UDP too
    passive_ssl: bool = False          # passive receive covers SSL links too
    state_queries: bool = False        # AT+CWSTATE? and AT+CIPSTATE? exist
    busy_s: bool = True                # "busy s..." to a command while a send is still pushed out (send_ok_delay)
    ssl_size: bool = True              # AT+CIPSSLSIZE exists
    unconfirmed: FrozenSet[str] = frozenset()


# --- Quectel ------------------------------------------------------------------------------------------
_QUECTEL_COMMON = dict(imei="866349041749536", iccid="8939560000000806706F", imsi="901405100000001")

QUECTEL: Dict[str, QuectelProfile] = {
    "BG96": QuectelProfile(
        model="BG96",
        identity=Identity("Quectel", "BG96", "BG96MAR02A07M1G", app_version="01.016.01.016", **_QUECTEL_COMMON),
        radio=Radio(csq=(19, 99), sysmode="CAT-M1", signal=(-62, -87, 111, -12), act="CAT-M1",
                    operator="Example Net", operator_numeric="24701", cops_act=8, band="LTE BAND 20", channel=6300),
        recvind=False,  # the BG96 note has no "recvind"
        qsslcfg_extra=frozenset({"checkhost", "ignorecertchain"}),  # BG96's AT+QSSLCFG=?
        unconfirmed=frozenset({"keepalive_idle", "transwaittm_unit", "radio.act"}),
    ),
    "BG95": QuectelProfile(
        model="BG95",
        identity=Identity("Quectel", "BG95-M3", "BG95M3LAR02A03", app_version="01.006.01.006", **_QUECTEL_COMMON),
        radio=Radio(csq=(19, 99), sysmode="eMTC", signal=(-62, -87, 111, -12), act="eMTC",
                    operator="Example Net", operator_numeric="24701", cops_act=7, band="LTE BAND 20", channel=6300),
        # APP RDY last (sim-registration.md §2.1: its place among the others is unconfirmed)
        boot_urcs=("RDY", "+CFUN: 1", "+CPIN: READY", "+QIND: SMS DONE", "APP RDY"),
        qsslcfg_extra=frozenset({"checkhost", "ignorecertchain"}),  # as BG96 (unconfirmed)
        unconfirmed=frozenset({"qsslcfg_extra"}),
    ),
    "EC25": QuectelProfile(
        model="EC25",
        identity=Identity("Quectel", "EC25", "EC25EFAR06A06M4G", app_version="01.002.01.002", **_QUECTEL_COMMON),
        radio=Radio(csq=(22, 99), sysmode="LTE", signal=(-58, -88, 140, -10), act="FDD LTE",
                    operator="Example Net", operator_numeric="24701", cops_act=7, band="LTE BAND 3", channel=1300),
        boot_urcs=("RDY", "+CFUN: 1", "+CPIN: READY", "+QUSIM: 1", "+QIND: SMS DONE"),
        qsslcfg_extra=frozenset({"cacertex", "dtls", "dtlsversion", "psk", "closetimemode", "session_cache",
                                 "renegotiation", "ignoremulticertchainverify", "ignoreinvalidcertsign",
                                 "alpn"}),  # EG25-G's AT+QSSLCFG=?
        unconfirmed=frozenset({"contexts", "connect_ids", "max_send", "max_read", "recvind", "keepalive_idle",
                               "transwaittm_unit", "identity.revision", "radio.sysmode", "radio.act"}),
    ),
    "EC200U": QuectelProfile(
        model="EC200U",
        identity=Identity("Quectel", "EC200U", "EC200UCNAAR03A15M08", app_version="01.001.01.001", **_QUECTEL_COMMON),
        radio=Radio(csq=(24, 99), sysmode="LTE", signal=(-55, -85, 150, -9), act="TDD LTE",
                    operator="Example Net", operator_numeric="46000", cops_act=7, band="LTE BAND 41", channel=40936),
        contexts=7,
        keepalive_idle=(1, 1800, 1),
        transwaittm_unit=0.001,  # "ms" in the EC200U note (probably a slip of that document)
        qicfg_extra=frozenset({"passiveclosed", "qisend/timeout", "close/mode", "sendinfo"}),
        unconfirmed=frozenset({"prompt", "boot_urcs", "transwaittm_unit", "radio.sysmode", "radio.act"}),
    ),
}


def quectel(model: str) -> QuectelProfile:
    key = (model or "").upper()
    if key not in QUECTEL:
        raise ValueError(f"no Quectel profile {model!r} (known: {', '.join(QUECTEL)})")
    return QUECTEL[key]


# --- ESP-AT -------------------------------------------------------------------------------------------
_ESP_RADIO = Radio(bssid="9c:53:22:10:20:30", channel=6, rssi=-58)  # info-and-ports.md §4.3
_ESP_MAC = "a4:cf:12:00:11:22"

ESP: Dict[str, EspProfile] = {
    "1.7": EspProfile(
        generation="1.7", major=1, version="1.7.4",
        identity=Identity("Espressif", "ESP8285", "1.7.4", gmr_lines=(
            "AT version:{version}.0(May 11 2020 19:13:04)", "SDK version:3.0.4(9532ceb)",
            "compile time:May 27 2020 10:12:17", "Bin version(Wroom 02):{version}"), mac=_ESP_MAC),
        radio=_ESP_RADIO,
        unconfirmed=frozenset({"identity.gmr_lines", "passive_ssl"}),
    ),
    "2.2": EspProfile(
        generation="2.2", major=2, version="2.2.0",
        identity=Identity("Espressif", "ESP8266", "2.2.0", gmr_lines=(
            "AT version:{version}.0(b097cdf - ESP8266 - Jun 17 2021 12:57:45)", "SDK version:v3.4-22-g967752e2",
            "compile time(6800286):Aug  4 2021 17:34:06", "Bin version:{version}(ESP8266_1MB)"), mac=_ESP_MAC),
        radio=_ESP_RADIO,
        frame_max=2920, prompt=b"\r\nOK\r\n\r\n>", cur_names=False, error_details=False, cwjap_failure="ERROR",
        quoted_ip=True, passive_udp=True, passive_ssl=True, state_queries=True, busy_s=False,
        unconfirmed=frozenset({"ssl_size", "identity.gmr_lines"}),
    ),
    # ESP-AT from v2.4.0.0 (ESP32 class): AT+CIPSEND takes 8192 bytes; the rest as 2.2
    "2.4": EspProfile(
        generation="2.4", major=2, version="2.4.0",
        identity=Identity("Espressif", "ESP32-C3", "2.4.0", gmr_lines=(
            "AT version:{version}.0(4c6eb5e - ESP32C3 - May 20 2022 03:12:58)", "SDK version:qa-test-v4.3.3-20220423",
            "compile time(5641e0a):May 20 2022 11:13:45", "Bin version:{version}(MINI-1)"), mac=_ESP_MAC),
        radio=_ESP_RADIO,
        send_max=8192, frame_max=2920, rx_window=5744, prompt=b"\r\nOK\r\n\r\n>", cur_names=False,
        error_details=False, cwjap_failure="ERROR", quoted_ip=True, passive_udp=True, state_queries=True,
        busy_s=False,
        unconfirmed=frozenset({"ssl_size", "identity.gmr_lines"}),
    ),
}

_VERSION = re.compile(r"([0-9]+)\.([0-9]+)(\.[0-9]+)?")


def esp(firmware: str) -> Tuple[EspProfile, str]:
    """The profile for a firmware version ("1.7", "1.7.4", "2.2", "2.2.0"...) and the full version
    text to report: the one given if it names a release, else the profile's."""
    found = _VERSION.fullmatch(firmware or "")
    key = f"{found.group(1)}.{found.group(2)}" if found else None
    if key not in ESP:
        raise ValueError(f"firmware {firmware!r}: expected one of {', '.join(ESP)} "
                         f"(or a release of them such as 1.7.4 or 2.2.0)")
    profile = ESP[key]
    return profile, firmware if found.group(3) else profile.version


def unconfirmed_fields() -> Dict[str, Tuple[str, ...]]:
    """Profile name -> the fields that rest on no source for it (for the README's table)."""
    table = {f"quectel {name}": tuple(sorted(p.unconfirmed)) for name, p in QUECTEL.items()}
    table.update({f"esp8285 {name}": tuple(sorted(p.unconfirmed)) for name, p in ESP.items()})
    return table
