"""What several subcommands share: the modem options, opening a modem from them, and listen addresses."""
import argparse
import ipaddress
import logging
import os
import socket
import sys
from typing import Tuple

import atsock

from .session import detect_dialect

log = logging.getLogger("atsock.cli")

DIALECTS = ("auto", "quectel", "esp8285")
QUECTEL_SETTINGS = ("apn", "user", "password", "pin", "context_id", "registration_timeout")
ESP_SETTINGS = ("ssid", "key")


def add_serial_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--baudrate", type=int, default=115200, help="serial line rate (default 115200; a USB "
                        "port of a Quectel module ignores it)")
    parser.add_argument("--dialect", choices=DIALECTS, default="auto",
                        help="the module's AT dialect (default: tell from ATI / AT+GMR)")


def add_modem_options(parser: argparse.ArgumentParser) -> None:
    """Serial options plus the settings ``open_modem`` takes for each dialect."""
    add_serial_options(parser)
    cell = parser.add_argument_group("cellular (quectel)")
    cell.add_argument("--apn", help="access point name of the data context")
    cell.add_argument("--user", help="APN user name")
    cell.add_argument("--password", help="APN password")
    cell.add_argument("--pin", help="SIM PIN, if the SIM asks for one")
    cell.add_argument("--context-id", type=context_id, help="data context (PDP) id, 1-16 (default 1)")
    cell.add_argument("--registration-timeout", type=float, metavar="SECONDS",
                      help="how long to wait for the network (default 90)")
    wifi = parser.add_argument_group("Wi-Fi (esp8285)")
    wifi.add_argument("--ssid", help="Wi-Fi network to join")
    wifi.add_argument("--key", help="Wi-Fi password (also read from $ATSOCK_WIFI_KEY)")


def resolve_dialect(args) -> str:
    if args.dialect != "auto":
        return args.dialect
    dialect = detect_dialect(args.port, args.baudrate)
    log.info("%s speaks the %s dialect", args.port, dialect)
    return dialect


def open_modem(args) -> "atsock.Modem":
    """``atsock.open_modem`` with the port, dialect and settings given on the command line."""
    dialect = resolve_dialect(args)
    if getattr(args, "key", None) is None and os.environ.get("ATSOCK_WIFI_KEY"):
        args.key = os.environ["ATSOCK_WIFI_KEY"]
    own, other = (QUECTEL_SETTINGS, ESP_SETTINGS) if dialect == "quectel" else (ESP_SETTINGS, QUECTEL_SETTINGS)
    stray = [name for name in other if getattr(args, name, None) is not None]
    if stray:
        raise ValueError(f"--{stray[0].replace('_', '-')} is not a setting of the {dialect} dialect")
    settings = {name: getattr(args, name) for name in own if getattr(args, name, None) is not None}
    return atsock.open_modem(args.port, dialect=dialect, baudrate=args.baudrate, progress=show_progress, **settings)


def show_progress(text: str) -> None:
    """What bring-up waits for (the SIM, the network...), on stderr as it changes."""
    print(f"atsock: {text}", file=sys.stderr, flush=True)


def context_id(text: str) -> int:
    """A data context id for an AT command: an int in 1-16."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 1 <= value <= 16:
        raise argparse.ArgumentTypeError(f"a context id is 1-16, not {text!r}")
    return value


def host_port(text: str, default_port: int = None) -> Tuple[str, int]:
    """``HOST:PORT``, ``[v6]:PORT`` or ``PORT`` alone (host 127.0.0.1)."""
    host, port = "127.0.0.1", text
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else ""
    elif ":" in text:
        host, _, port = text.rpartition(":")
    if not port and default_port is not None:
        port = str(default_port)
    try:
        number = int(port)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {text!r}") from None
    if not host or not 0 <= number <= 65535:
        raise argparse.ArgumentTypeError(f"expected HOST:PORT with a port in 0-65535, got {text!r}")
    return host, number


def listener(address: Tuple[str, int]) -> socket.socket:
    """A listening TCP socket on the host; a warning if it is reachable from other machines."""
    host, port = address
    info = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
    sock = socket.socket(info[0], socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(info[4])
    sock.listen(64)
    if not ipaddress.ip_address(info[4][0].split("%")[0]).is_loopback:
        log.warning("listening on %s, which is not loopback: other machines can use the modem through it",
                    format_address(sock.getsockname()))
    return sock


def format_address(address) -> str:
    host, port = address[0], address[1]
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
