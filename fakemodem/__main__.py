"""``python -m fakemodem DIALECT [options]``: serve an emulated module on a pty until interrupted.

The first line on stdout is the pty path to open; everything after it is log output on stderr.
"""
import argparse
import ast
import ipaddress
import logging
import math
import os
import signal
import sys
import threading

from . import cmux, dialects, identity, profiles
from .faults import parse_cli
from .runtime import FakeModem


def _pair(text: str):
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    return name, value


def _address(text: str) -> str:
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an IP address") from None


def _host(text: str):
    name, address = _pair(text)
    return name, _address(address)


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, 0 or more, got {text!r}")
    return value


def _baudrate(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 50 <= value <= 20_000_000:
        raise argparse.ArgumentTypeError(f"expected a line rate in baud (50 to 20000000), got {text!r}")
    return value


def _fault(text: str):
    try:
        return parse_cli(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _firmware(text: str) -> str:
    try:
        profiles.esp(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def _record(text: str) -> str:
    directory = os.path.dirname(os.path.abspath(text))
    if not os.path.isdir(directory) or not os.access(directory, os.W_OK) or os.path.isdir(text):
        raise argparse.ArgumentTypeError(f"cannot write a trace at {text!r}")
    return text


def _pem_file(text: str) -> bytes:
    try:
        with open(text, "rb") as file:
            data = file.read()
    except OSError as exc:
        raise argparse.ArgumentTypeError(f"cannot read {text!r}: {exc.strerror}") from None
    if b"-----BEGIN CERTIFICATE-----" not in data:
        raise argparse.ArgumentTypeError(f"{text!r} holds no PEM certificate")
    return data


def _model(text: str) -> str:
    try:
        return profiles.quectel(text).model
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _identity(text: str):
    name, given = _pair(text)
    try:
        return name, identity.value(name, given)
    except (TypeError, ValueError) as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _cmux(text: str):
    """A CMUX switch: NAME=VALUE, the value a number, true/false/none or a word (fakemodem/cmux.py)."""
    name, given = _pair(text)
    words = {"true": True, "false": False, "none": None}
    if given.lower() in words:
        value = words[given.lower()]
    else:
        try:
            value = float(given) if "." in given else int(given)
        except ValueError:
            value = given
    try:
        cmux.options({name: value})
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return name, value


def _link(text: str) -> str:
    """A path for the symlink: its directory must exist, and only a symlink may be replaced."""
    path = os.path.abspath(text)
    if not os.path.isdir(os.path.dirname(path)):
        raise argparse.ArgumentTypeError(f"no directory {os.path.dirname(path)!r} for the link {text!r}")
    if os.path.lexists(path) and not os.path.islink(path):
        raise argparse.ArgumentTypeError(f"{text!r} exists and is not a symlink; it will not be replaced")
    if not os.access(os.path.dirname(path), os.W_OK):
        raise argparse.ArgumentTypeError(f"cannot create a link in {os.path.dirname(path)!r}")
    return path


def _option(text: str):
    """``NAME=VALUE`` for any keyword option of the dialect; VALUE is read as a Python literal where
    it is one (``True``, ``3``, ``0.5``, ``"x"``), else taken as text."""
    name, given = _pair(text)
    if not name.isidentifier():
        raise argparse.ArgumentTypeError(f"{name!r} is not an option name")
    try:
        return name, ast.literal_eval(given)
    except (ValueError, SyntaxError):
        return name, given


QUECTEL_FLAGS = ("registration_delay", "model", "sim", "pin", "apn_required", "registration", "registration_mix",
                 "boot_manner", "app_ready_delay", "cmux")
ESP_FLAGS = ("network", "firmware", "client_ca", "boot_noise", "vendor_banner", "boot_outcome")


def _add_situations(parser: argparse.ArgumentParser) -> None:
    """The day-one situations of fakemodem/README.md: SIM, APN, registration, boot manners."""
    cell = parser.add_argument_group("quectel: SIM, network and boot")
    cell.add_argument("--sim", choices=("ready", "absent", "pin", "puk"), help="the SIM at power-on (default ready)")
    cell.add_argument("--pin", help="the SIM's PIN (default 1234)")
    cell.add_argument("--apn-required", metavar="APN", help="the data context activates only with this APN")
    cell.add_argument("--registration", choices=("home", "roaming", "denied", "searching"),
                      help="where registration ends (default home); --identity csq=99,99 for no signal")
    cell.add_argument("--registration-mix", choices=("same", "lte-only", "gprs-only"),
                      help="how CREG, CGREG and CEREG relate (default same)")
    cell.add_argument("--boot-manner", choices=("clean", "warm"),
                      help="warm: the module was on (POWERED DOWN, deaf for seconds, APP RDY)")
    cell.add_argument("--app-ready-delay", type=_seconds, metavar="SECONDS",
                      help="ERROR to every command from RDY until APP RDY, this long (BG95)")
    esp = parser.add_argument_group("esp8285: boot")
    esp.add_argument("--boot-noise", choices=("garbage", "rom"), help="the ROM's boot report before ready")
    esp.add_argument("--vendor-banner", metavar="TEXT", help="a vendor's line before ready")
    esp.add_argument("--boot-outcome", choices=("ready", "invalid", "silent"),
                     help="invalid: prints Invalid and takes no command; silent: no ready")
    parser.add_argument("--option", action="append", type=_option, default=[], metavar="NAME=VALUE",
                        help="any other option of the dialect by name (repeatable), e.g. ipd_crlf=False")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fakemodem", description=__doc__.splitlines()[0])
    parser.add_argument("dialect", choices=dialects.NAMES)
    parser.add_argument("--host", action="append", type=_host, default=[], metavar="NAME=ADDRESS",
                        help="answer DNS lookups of NAME with ADDRESS (repeatable)")
    parser.add_argument("--blackhole", action="append", type=_address, default=[], metavar="ADDRESS",
                        help="never answer connections to ADDRESS (repeatable)")
    parser.add_argument("--network", action="append", type=_pair, default=[], metavar="SSID=PASSWORD",
                        help="esp8285: a Wi-Fi network the module can join (repeatable)")
    parser.add_argument("--firmware", type=_firmware,
                        help=f"esp8285: AT firmware, {' or '.join(profiles.ESP)} (default 1.7) or a release such as 2.2.0")
    parser.add_argument("--client-ca", action="append", type=_pem_file, default=[], metavar="PEMFILE",
                        help="esp8285 2.x: a CA flashed in the module for its SSL links (repeatable: index 0, 1...)")
    parser.add_argument("--model", type=_model, help=f"quectel: {', '.join(profiles.QUECTEL)} (default BG96)")
    parser.add_argument("--identity", action="append", type=_identity, default=[], metavar="NAME=VALUE",
                        help="replace a field of the profile's identity or radio (repeatable), e.g. "
                             "imei=866349041749536 or csq=12,99 (fakemodem/identity.py)")
    parser.add_argument("--cmux", action="append", type=_cmux, default=[], metavar="NAME=VALUE",
                        help="quectel: a reading of what the CMUX references leave open (repeatable), e.g. "
                             "urcport=0 or uih_poll=true (fakemodem/cmux.py)")
    parser.add_argument("--baudrate", type=_baudrate,
                        help="a paced line (10 bits a byte) whose module boots at this rate")
    parser.add_argument("--boot-baudrate", type=_baudrate,
                        help="the rate the module's UART has at power-on and after a restart (default 115200)")
    parser.add_argument("--paced", action="store_true", help="carry only what the line's rate allows")
    parser.add_argument("--latency", type=_seconds, default=0.0, metavar="SECONDS",
                        help="delay before the module answers each command")
    parser.add_argument("--registration-delay", type=_seconds, default=0.0, metavar="SECONDS",
                        help="quectel: time from boot until the network registration succeeds")
    parser.add_argument("--fault", action="append", type=_fault, default=[], metavar="NAME=VALUE",
                        help="inject a fault (see fakemodem/faults.py), e.g. split=0.2 or delay=0.01")
    parser.add_argument("--seed", type=int, help="seed for the fault choices (reproducible runs)")
    parser.add_argument("--link", type=_link, metavar="PATH", help="also expose the port as a symlink at PATH")
    parser.add_argument("--record", type=_record, metavar="PATH",
                        help="write every line and payload, both directions, to PATH as JSON lines")
    parser.add_argument("-v", "--verbose", action="store_true", help="log every command to stderr")
    _add_situations(parser)
    args = parser.parse_args(argv)
    own, other = (ESP_FLAGS, QUECTEL_FLAGS) if args.dialect == "esp8285" else (QUECTEL_FLAGS, ESP_FLAGS)
    stray = [name for name in other if getattr(args, name) not in (None, [], 0.0)]
    if stray:
        parser.error(f"--{stray[0].replace('_', '-')} is not an option of the {args.dialect} dialect")
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING, stream=sys.stderr)

    hosts = {}
    for name, address in args.host:
        hosts.setdefault(name, []).append(address)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    options = dict(hosts=hosts, blackhole=args.blackhole, latency=args.latency, identity=dict(args.identity))
    options.update({name: getattr(args, name) for name in own if getattr(args, name) not in (None, [])})
    if args.dialect == "esp8285":
        options["networks"] = dict(options.pop("network", []))
    elif "cmux" in options:
        options["cmux"] = dict(options["cmux"])
    options.update(args.option)
    try:
        fake = FakeModem(args.dialect, baudrate=args.baudrate, boot_baudrate=args.boot_baudrate,
                         paced=args.paced or None, faults=dict(args.fault), seed=args.seed,
                         link_path=args.link, record=args.record, **options)
    except (TypeError, ValueError) as exc:
        parser.error(str(exc))
    with fake as modem:
        print(modem.port, flush=True)
        stop.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
