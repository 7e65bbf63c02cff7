"""What several subcommands share: the port, the modem options, opening a modem from them, and
listen addresses.

One port convention for every command: PORT is a positional argument, ``$ATSOCK_PORT`` its
default, and without either the one serial port that answers AT (if exactly one does). Secrets
(SIM PIN, APN password, Wi-Fi key) come from a flag, a file (``--pin-file``) or the environment, so
that they need not be visible in ``ps``.
"""
import argparse
import errno
import ipaddress
import logging
import os
import socket
import sys
from typing import Optional, Tuple

import atsock

from ..registry import get as dialect_class
from . import ports
from .session import BareSession

log = logging.getLogger("atsock.cli")

DIALECTS = ("auto", "quectel", "esp8285", "esp8266", "esp-at")
FAMILY_NAMES = {"quectel": "Quectel", "esp8285": "ESP-AT"}
QUECTEL_SETTINGS = ("apn", "user", "password", "auth", "pin", "context_id", "registration_timeout", "ip_version")
ESP_SETTINGS = ("ssid", "key", "ip_version")
#: secret settings -> the environment variable that may hold them (and --NAME-file reads one from a file)
SECRETS = {"pin": "ATSOCK_PIN", "password": "ATSOCK_APN_PASSWORD", "key": "ATSOCK_WIFI_KEY"}


#: shtab's file completion, for the completion script (``atsock --print-completion``)
COMPLETE_PATH = {"bash": "_shtab_compgen_files", "zsh": "_files"}


def add_port_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("port", nargs="?", metavar="PORT",
                        help="serial port: a device path or a pyserial URL (default: $ATSOCK_PORT; without it, "
                             "the one serial port that answers AT)").complete = COMPLETE_PATH


def add_serial_options(parser: argparse.ArgumentParser) -> None:
    add_port_argument(parser)
    parser.add_argument("--baudrate", type=int, default=115200,
                        help="serial line rate (default 115200): the module is found at whatever rate it is and "
                             "switched to this one (a USB port of a Quectel module ignores it)")
    parser.add_argument("--dialect", choices=DIALECTS, default="auto",
                        help="the module's AT dialect: quectel, or esp8285 (the same as esp8266 and esp-at) "
                             "for ESP-AT firmware (default: tell from ATI / AT+GMR)")


def add_modem_options(parser: argparse.ArgumentParser) -> None:
    """Serial options plus the settings ``open_modem`` takes for each dialect."""
    add_serial_options(parser)
    parser.add_argument("--flow", choices=("none", "rtscts"), default="none",
                        help="hardware flow control at both ends (rtscts: RTS and CTS wired; above 115200 it keeps "
                             "bytes from being lost when either side is busy)")
    parser.add_argument("--ip-version", choices=("ipv4", "ipv6", "ipv4v6"),
                        help="quectel: the data context's type (default ipv4); esp8285: ipv6 or ipv4v6 turns "
                             "IPv6 on (ESP-AT 2.x)")
    cell = parser.add_argument_group("cellular (quectel)")
    cell.add_argument("--apn", help="access point name of the data context")
    cell.add_argument("--user", help="APN user name")
    cell.add_argument("--password", help="APN password (or $ATSOCK_APN_PASSWORD, or --password-file)")
    cell.add_argument("--auth", choices=("none", "pap", "chap"),
                      help="APN authentication (default: pap with a user or password, else none)")
    cell.add_argument("--pin", help="SIM PIN, if the SIM asks for one (or $ATSOCK_PIN, or --pin-file)")
    cell.add_argument("--context-id", type=context_id, help="data context (PDP) id, 1-16 (default 1)")
    cell.add_argument("--registration-timeout", type=float, metavar="SECONDS",
                      help="how long to wait for the network (default 90)")
    wifi = parser.add_argument_group("Wi-Fi (esp8285)")
    wifi.add_argument("--ssid", help="Wi-Fi network to join")
    wifi.add_argument("--key", help="Wi-Fi password (or $ATSOCK_WIFI_KEY, or --key-file)")
    secrets = parser.add_argument_group("secrets from a file (the first line; flags are visible to `ps`)")
    for name in SECRETS:
        secrets.add_argument(f"--{name}-file", metavar="FILE", help=f"read the {name} from FILE")


def resolve_port(args) -> str:
    """PORT, else $ATSOCK_PORT, else the one port that answers AT; kept in ``args.port``."""
    if not args.port:
        args.port = os.environ.get("ATSOCK_PORT") or _the_port_that_answers(args.baudrate)
    return args.port


def _the_port_that_answers(baudrate: int) -> str:
    found = ports.answering(baudrate)
    if len(found) == 1:
        log.info("using %s, the one serial port that answers AT", found[0])
        return found[0]
    why = f"several answer AT ({', '.join(found)})" if found else "none of the serial ports answers AT"
    raise ValueError(f"which serial port? {why}: give PORT or set ATSOCK_PORT (`atsock ports` lists them)")


def family(dialect: str) -> str:
    """The dialect a name stands for: ``esp8266`` and ``esp-at`` are ``esp8285``."""
    return dialect_class(dialect).name


def identify(args) -> str:
    """The dialect to speak on ``args.port``: what the module says it is, checked against ``--dialect``.

    A module that names itself the other family than ``--dialect`` is refused at once (speaking the
    wrong dialect only ends in time-outs); one that names neither is spoken to as ``--dialect`` says."""
    with BareSession(resolve_port(args), baudrate=args.baudrate) as session:
        found = session.identify()
    return checked_dialect(args.port, args.dialect, found)


def checked_dialect(port, given: str, found: Optional[str]) -> str:
    if given == "auto":
        if found is None:
            raise OSError(errno.EPROTO, f"{port} answers AT but is neither a Quectel module (ATI) nor an ESP-AT "
                                        "module (AT+GMR); give --dialect")
        return found
    if found is not None and found != family(given):
        raise OSError(errno.EPROTO, f"{port} speaks {FAMILY_NAMES[found]}, not {FAMILY_NAMES[family(given)]}: "
                                    f"give --dialect {found} (or leave --dialect out)")
    return family(given)


def read_secrets(args, names) -> None:
    """Fill in the secrets among ``names`` not given as flags from ``--NAME-file`` or the environment
    (only the dialect's own: a $ATSOCK_PIN left in the environment is no error for an ESP)."""
    for name, variable in SECRETS.items():
        if name not in names or getattr(args, name, None) is not None:
            continue
        path = getattr(args, f"{name}_file", None)
        if path:
            with open(path, encoding="utf-8") as file:
                setattr(args, name, file.readline().rstrip("\r\n"))
        elif os.environ.get(variable):
            setattr(args, name, os.environ[variable])


def open_modem(args) -> "atsock.Modem":
    """``atsock.open_modem`` with the port, dialect and settings given on the command line."""
    dialect = identify(args)
    own, other = (QUECTEL_SETTINGS, ESP_SETTINGS) if dialect == "quectel" else (ESP_SETTINGS, QUECTEL_SETTINGS)
    given = [name for name in other if name not in own and getattr(args, name, None) is not None]
    given += [f"{name}_file" for name in other if name not in own and getattr(args, f"{name}_file", None)]
    if given:
        raise ValueError(f"--{given[0].replace('_', '-')} is not a setting of the {dialect} dialect")
    read_secrets(args, own)
    settings = {name: getattr(args, name) for name in own if getattr(args, name, None) is not None}
    if dialect != "quectel":
        if settings.get("ssid") is None:
            raise ValueError("an ESP module joins a Wi-Fi network first: give --ssid and --key "
                             "(or $ATSOCK_WIFI_KEY)")
        ip_version = settings.pop("ip_version", "ipv4")
        if ip_version != "ipv4":
            settings["ipv6"] = True
    return atsock.open_modem(args.port, dialect=dialect, baudrate=args.baudrate, flow_control=args.flow,
                             progress=show_progress, **settings)


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
    try:
        sock.bind(info[4])
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise OSError(errno.EADDRINUSE, f"{format_address(info[4])} is already in use by another program: "
                                            "choose another address with --listen") from None
        raise
    sock.listen(64)
    if not ipaddress.ip_address(info[4][0].split("%")[0]).is_loopback:
        log.warning("listening on %s, which is not loopback: other machines can use the modem through it",
                    format_address(sock.getsockname()))
    return sock


def format_address(address) -> str:
    host, port = address[0], address[1]
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
