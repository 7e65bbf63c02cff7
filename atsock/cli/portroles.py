"""Which serial port of a USB device is for what, from its USB identity alone (no I/O here).

Quectel modules (USB vendor 0x2C7C) expose several serial interfaces and only one of them is the AT
port; the layouts below are those of ``shared/at-reference/info-and-ports.md`` §2 (Linux ``option``
driver and ModemManager's Quectel rules). USB-to-UART bridges are what ESP8266/ESP8285 boards are
reached through; their IDs say nothing about the AT firmware behind them, so such ports are only
candidates for a probe. The bridge and Espressif IDs are general knowledge, not from the reference.
"""
import re
from dataclasses import dataclass
from typing import Dict, Optional

QUECTEL_VID = 0x2C7C
ESPRESSIF_VID = 0x303A

#: PID -> model names (info-and-ports.md §2.1)
QUECTEL_MODELS: Dict[int, str] = {
    0x0121: "EC21", 0x0125: "EC25/EG25", 0x0191: "EG91", 0x0195: "EG95", 0x0296: "BG96",
    0x0306: "EP06/EG06", 0x0512: "EM12/EG12", 0x0700: "BG95", 0x0800: "RM500Q", 0x0801: "RM520N",
    0x0901: "EC200U", 0x6002: "EC200S-CN", 0x6005: "EC200A", 0x6026: "EC200T",
}
#: Qualcomm-based modules in their default (QMI) configuration; ModemManager tags the same
#: interfaces on every PID it lists (0 QCDM, 1 GPS, 2 AT primary, 3 AT secondary)
QUALCOMM_LAYOUT = {0: "DM", 1: "NMEA", 2: "AT", 3: "modem"}
#: BG95: interface 3 is reserved by the option driver; 4 is a second modem port in "modem" usbnet mode
BG95_LAYOUT = {0: "DM", 1: "NMEA", 2: "AT", 4: "modem"}
LAYOUTS = {pid: QUALCOMM_LAYOUT for pid in (0x0121, 0x0125, 0x0191, 0x0195, 0x0296, 0x0306, 0x0512, 0x0800, 0x0801)}
LAYOUTS[0x0700] = BG95_LAYOUT

ROLE_NOTES = {
    "DM": "Qualcomm diagnostics (binary): not for AT",
    "NMEA": "GNSS sentences: not for AT",
    "AT": "AT command port: use this one",
    "modem": "modem (PPP) port, also takes AT; usually left to PPP or as a second AT port",
}

#: USB-UART bridges found on ESP8266/ESP8285 boards: (VID, PID) -> chip
BRIDGES = {
    (0x10C4, 0xEA60): "Silicon Labs CP210x", (0x10C4, 0xEA70): "Silicon Labs CP2105",
    (0x10C4, 0xEA71): "Silicon Labs CP2108",
    (0x1A86, 0x7523): "WCH CH340", (0x1A86, 0x5523): "WCH CH341", (0x1A86, 0x55D4): "WCH CH9102",
    (0x0403, 0x6001): "FTDI FT232R", (0x0403, 0x6010): "FTDI FT2232", (0x0403, 0x6011): "FTDI FT4232",
    (0x0403, 0x6014): "FTDI FT232H", (0x0403, 0x6015): "FTDI FT-X",
    (0x067B, 0x2303): "Prolific PL2303", (0x067B, 0x23A3): "Prolific PL2303GC",
}
BRIDGE_VENDORS = {0x10C4: "Silicon Labs", 0x1A86: "WCH", 0x0403: "FTDI", 0x067B: "Prolific"}

_INTERFACE_IN_LOCATION = re.compile(r":\d+\.(\d+)$")
_INTERFACE_IN_BY_ID = re.compile(r"-if(\d+)(?:-port\d+)?$")


@dataclass(frozen=True)
class PortFacts:
    """What the system says about a port: ``serial.tools.list_ports`` fields, or fewer for a pty."""

    device: str
    vid: Optional[int] = None
    pid: Optional[int] = None
    serial_number: Optional[str] = None
    location: Optional[str] = None      # e.g. "1-1.3:1.2": configuration 1, interface 2
    manufacturer: Optional[str] = None
    product: Optional[str] = None
    interface: Optional[str] = None     # the interface's own name string, if it has one
    by_id: Optional[str] = None         # /dev/serial/by-id/... name, if udev made one


@dataclass(frozen=True)
class Role:
    kind: str              # "DM", "NMEA", "AT", "modem", "unknown", "bridge", "espressif", "serial"
    device: str            # what the hardware is, in words
    note: str              # what to do with it
    probe: bool            # worth an AT probe


def interface_number(facts: PortFacts) -> Optional[int]:
    """From the location's ``:<config>.<interface>`` suffix, else from a by-id name's ``-ifNN``."""
    for text, pattern in ((facts.location, _INTERFACE_IN_LOCATION), (facts.by_id, _INTERFACE_IN_BY_ID)):
        match = pattern.search(text or "")
        if match:
            return int(match.group(1))
    return None


def role(facts: PortFacts) -> Role:
    if facts.vid == QUECTEL_VID:
        return _quectel_role(facts)
    if facts.vid is None:
        return Role("serial", "serial port without USB data (UART, pty)", "probe to see whether a module answers",
                    True)
    if (facts.vid, facts.pid) in BRIDGES or facts.vid in BRIDGE_VENDORS:
        chip = BRIDGES.get((facts.vid, facts.pid)) or f"{BRIDGE_VENDORS[facts.vid]} bridge"
        return Role("bridge", f"{chip} USB-UART bridge", "likely an ESP8266/ESP8285 board (or another UART device)",
                    True)
    if facts.vid == ESPRESSIF_VID:
        return Role("espressif", "Espressif native USB",
                    "console/JTAG of an ESP32; AT firmware usually listens on a UART", False)
    return Role("unknown", "USB serial device", "not a known modem or bridge", False)


def _quectel_role(facts: PortFacts) -> Role:
    model = QUECTEL_MODELS.get(facts.pid, f"PID {facts.pid:#06x}" if facts.pid is not None else "unknown PID")
    device = f"Quectel {model}"
    number = interface_number(facts)
    layout = LAYOUTS.get(facts.pid)
    if layout is None or number is None:
        why = "layout of this model not known" if layout is None else "interface number not known"
        return Role("unknown", device, f"{why}: probe each port with AT", True)
    kind = layout.get(number)
    if kind is None:
        return Role("unknown", device, f"interface {number} is not in the known layout", False)
    return Role(kind, device, ROLE_NOTES[kind], kind in ("AT", "modem"))
