"""``atsock COMMAND ...``: the argument tree, logging, and one place that turns errors into messages."""
import argparse
import errno
import logging
import sys
from typing import List, Optional

from ..errors import ModemError
from . import at, forward, get, info, ports, socks

COMMANDS = (ports, info, at, get, socks, forward)

EPILOG = """\
first steps on real hardware:
  atsock ports                         which serial port is the module's AT port (and who holds it)
  atsock info /dev/ttyUSB2             model, SIM, signal, operator, registration
  atsock at /dev/ttyUSB2 'AT+CSQ'      one raw command (no arguments: an interactive console)
  atsock get --port /dev/ttyUSB2 --apn internet http://example.org/ -o page.html
  atsock socks /dev/ttyUSB2 --apn internet     then: curl --socks5-hostname 127.0.0.1:1080 http://...
wiring, USB ports, ModemManager, permissions: docs/hardware.md"""


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("-v", "--verbose", action="store_true", help="log what happens (INFO)")
    common.add_argument("--trace", action="store_true", help="show every byte/command on the wire (stderr)")
    parser = argparse.ArgumentParser(
        prog="atsock", formatter_class=argparse.RawDescriptionHelpFormatter, epilog=EPILOG,
        description="Use a Quectel cellular module or an ESP8285/ESP8266 Wi-Fi module over its AT commands: "
                    "find its port, inspect it, talk AT, fetch a URL, or let host programs use its TCP/IP "
                    "stack through a SOCKS5 proxy or a port forwarder.")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for command in COMMANDS:
        command.add_parser(subparsers, [common])
    return parser


def setup_logging(args) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s" if args.verbose or args.trace
                                           else "atsock: %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.INFO if args.verbose else logging.WARNING)
    logging.getLogger("transitions").setLevel(logging.WARNING)
    if args.trace:
        logging.getLogger("atsock.at").setLevel(logging.DEBUG)


def main(argv: Optional[List[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    setup_logging(args)
    try:
        return args.run(args)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 141  # e.g. `atsock get ... | head`
    except (OSError, ValueError) as exc:
        print(f"atsock {args.command}: {_explain(exc)}", file=sys.stderr)
        return 1


def _explain(exc: BaseException) -> str:
    text = _in_cli_words(exc)
    if getattr(exc, "errno", None) == errno.EACCES or "Permission denied" in text:
        text += " (on Linux, serial ports belong to the 'dialout' group: sudo usermod -aG dialout $USER, " \
                "then log in again; see docs/hardware.md)"
    return text


def _in_cli_words(exc: BaseException) -> str:
    """A modem's own failure names the option that mends it as this command line spells it
    (``--pin``, not ``pin=...``)."""
    if isinstance(exc, ModemError):
        return exc.message(lambda setting: "--" + setting.replace("_", "-"))
    return str(exc)
