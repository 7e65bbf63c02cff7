"""``atsock ports [PATTERN ...]``: the serial ports, what each one is for, and who holds it.

USB data comes from pyserial's ``list_ports``; Quectel interface roles from
:mod:`atsock.cli.portroles`; holders from ``/proc/*/fd`` through :mod:`atsock.wire.port_holders` (only
processes we may look into: run as root to see every holder). Candidates for an AT port that nobody holds get a short probe
(``AT``, then ``ATI`` or ``AT+GMR``) so the table says which port really answers. Patterns (shell
globs) select ports and also name ports ``list_ports`` does not know, such as an emulator's pty.
"""
import fnmatch
import glob
import json
import os
import stat
from dataclasses import asdict
from typing import Dict, List, Optional

import serial
from serial.tools import list_ports

from ..errors import docs_link
from ..wire import port_holders
from .portroles import PortFacts, interface_number, role
from .serialat import SerialAT

PROBE_TIMEOUT = 0.5
LINK_DIRS = ("/dev/serial/by-id", "/dev/serial/by-path")
LINK_ALIASES = ("/dev/serial0", "/dev/serial1")  # Raspberry Pi: the primary and secondary UART


def add_parser(subparsers, parents):
    parser = subparsers.add_parser(
        "ports", parents=parents, help="list serial ports, their roles, and who holds them",
        description="List serial ports with USB vendor/product, serial number, /dev/serial/by-id name and "
                    "interface number. Quectel ports get their role (DM, NMEA, AT, modem) from the known "
                    "layouts; USB-UART bridges are flagged as likely ESP boards; ports another process holds "
                    "are shown busy with the holder. Free candidates are probed with AT.")
    parser.add_argument("patterns", nargs="*", metavar="PATTERN",
                        help="only ports whose path (or by-id name) matches this glob; paths that exist but are "
                             "not listed by the system (a pty, a symlink) are shown too")
    parser.add_argument("--no-probe", action="store_true", help="do not send AT to any port")
    parser.add_argument("--baudrate", type=int, default=115200, help="line rate for the probe (default 115200)")
    parser.add_argument("--json", action="store_true", help="print a JSON list instead of text")
    parser.set_defaults(run=run)


def run(args) -> int:
    links = serial_links()
    facts = collect(args.patterns, links)
    reports = [describe(f, other_holders(f.device), not args.no_probe, args.baudrate) for f in facts]
    manager = port_holders.running("ModemManager")
    if args.json:
        print(json.dumps({"ports": reports, "modem_manager": manager}, indent=2))
        return 0
    if not reports:
        print("no serial ports found" + (" matching " + " ".join(args.patterns) if args.patterns else ""))
    for report in reports:
        print(render(report))
    if manager:
        print(f"\nModemManager is running (pid {', '.join(map(str, manager))}): it opens and probes modem "
              f"ports, so AT answers can go astray; see {docs_link('hardware', 'modemmanager')}")
    return 0


def answering(baudrate: int) -> List[str]:
    """The ports that answer AT now (free candidates only), for commands given no port."""
    facts = collect([], serial_links())
    reports = [describe(f, other_holders(f.device), True, baudrate) for f in facts]
    return [r["device"] for r in reports if r["probe"] and r["probe"]["answers_at"]]


# --- finding ports -------------------------------------------------------------------------------
def serial_links() -> Dict[str, List[str]]:
    """real device path -> the stable names udev (or the Pi's firmware) gave it."""
    links: Dict[str, List[str]] = {}
    candidates = [os.path.join(d, name) for d in LINK_DIRS if os.path.isdir(d) for name in sorted(os.listdir(d))]
    for path in candidates + [p for p in LINK_ALIASES if os.path.islink(p)]:
        links.setdefault(os.path.realpath(path), []).append(path)
    return links


def collect(patterns: List[str], links: Dict[str, List[str]]) -> List[PortFacts]:
    facts = []
    for info in sorted(list_ports.comports(), key=lambda i: i.device):
        names = links.get(os.path.realpath(info.device), [])
        if patterns and not any(fnmatch.fnmatch(n, p) for n in [info.device] + names for p in patterns):
            continue
        by_id = next((n for n in names if n.startswith("/dev/serial/by-id/")), None)
        facts.append(PortFacts(info.device, info.vid, info.pid, info.serial_number, info.location,
                               info.manufacturer, info.product, info.interface, by_id))
    known = {os.path.realpath(f.device) for f in facts}
    for pattern in patterns:
        for path in sorted(glob.glob(pattern)):
            real = os.path.realpath(path)
            if real not in known and _is_char_device(real):
                known.add(real)
                facts.append(PortFacts(path))
    return facts


def _is_char_device(path: str) -> bool:
    try:
        return stat.S_ISCHR(os.stat(path).st_mode)
    except OSError:
        return False


# --- who holds a port ----------------------------------------------------------------------------
def other_holders(device: str) -> List[dict]:
    """[{"pid", "name"}] of the other processes with ``device`` open that we may look into."""
    me = os.getpid()
    return [{"pid": pid, "name": name} for pid, name in port_holders.holders(device) if pid != me]


# --- what a port is --------------------------------------------------------------------------------
def describe(facts: PortFacts, holders: List[dict], probe: bool, baudrate: int) -> dict:
    port_role = role(facts)
    report = {**asdict(facts), "vid": _hex(facts.vid), "pid": _hex(facts.pid),
              "interface_number": interface_number(facts), "role": port_role.kind,
              "hardware": port_role.device, "note": port_role.note, "holders": holders,
              "access": os.access(facts.device, os.R_OK | os.W_OK), "probe": None}
    if probe and port_role.probe and not holders and report["access"]:
        report["probe"] = probe_port(facts.device, baudrate)
    return report


def _hex(value: Optional[int]) -> Optional[str]:
    return None if value is None else f"{value:04x}"


def probe_port(device: str, baudrate: int) -> dict:
    """``AT``; if answered, ``ATI`` (Quectel names itself) or ``AT+GMR`` (ESP-AT version)."""
    try:
        with SerialAT(device, baudrate=baudrate) as port:
            answer = port.exchange("AT", PROBE_TIMEOUT)
            if answer is None:  # perhaps left in data mode: that AT went to the far end
                port.leave_data_mode(PROBE_TIMEOUT)
                answer = port.exchange("AT", PROBE_TIMEOUT)
            if answer is None or answer[1] != "OK":
                return {"answers_at": False, "module": None}
            lines, final = port.exchange("ATI", PROBE_TIMEOUT) or ([], None)
            if final == "OK" and lines and lines[0].strip().lower() == "quectel":
                return {"answers_at": True, "module": " ".join(line.strip() for line in lines[:2])}
            lines, final = port.exchange("AT+GMR", PROBE_TIMEOUT) or ([], None)
            version = next((line for line in lines if line.startswith("AT version:")), None)
            return {"answers_at": True, "module": f"ESP-AT, {version}" if final == "OK" and version else None}
    except (serial.SerialException, OSError) as exc:
        return {"answers_at": False, "module": None, "error": str(exc)}


def render(report: dict) -> str:
    head = report["device"]
    if report["holders"]:
        status = "BUSY, held by " + ", ".join(f"{h['name']} (pid {h['pid']})" for h in report["holders"])
    elif not report["access"]:
        status = f"no permission (join the dialout group; see {docs_link('hardware', 'permissions')})"
    elif report["probe"] is not None:
        probe = report["probe"]
        status = ("answers AT" + (f": {probe['module']}" if probe["module"] else "")) if probe["answers_at"] \
            else "no answer to AT" + (f" ({probe['error']})" if probe.get("error") else "")
    else:
        status = "free"
    lines = [f"{head}  [{report['role']}] {status}", f"    {report['hardware']}: {report['note']}"]
    usb = []
    if report["vid"]:
        usb.append(f"USB {report['vid']}:{report['pid']}")
    if report["interface_number"] is not None:
        usb.append(f"interface {report['interface_number']}")
    if report["serial_number"]:
        usb.append(f"serial {report['serial_number']}")
    if report["product"]:
        usb.append(f"product {report['product']!r}")
    if usb:
        lines.append("    " + ", ".join(usb))
    if report["by_id"]:
        lines.append(f"    stable name: {report['by_id']}")
    return "\n".join(lines)
