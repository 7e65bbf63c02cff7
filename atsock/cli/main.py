"""``atsock COMMAND ...``: the argument tree, logging, and one place that turns errors into messages.

Options may come before or after a command's positional arguments (``atsock at PORT --timeout 3
AT``), as argparse's intermixed parsing allows. Shell completion and the man page are generated
from this same parser (the ``cli`` extra: shtab and argparse-manpage).
"""
import argparse
import logging
import sys
from typing import List, Optional

from .. import __version__
from . import at, forward, get, info, ports, socks
from ..errors import docs_link
from .explain import explain

COMMANDS = (ports, info, at, get, socks, forward)

EPILOG = f"""\
first steps on real hardware:
  atsock ports                         which serial port is the module's AT port (and who holds it)
  atsock info /dev/ttyUSB2             model, SIM, signal, operator, registration
  atsock at /dev/ttyUSB2 'AT+CSQ'      one raw command (no arguments: an interactive console)
  atsock get /dev/ttyUSB2 --apn internet http://example.org/ -o page.html
  atsock socks /dev/ttyUSB2 --apn internet     then: curl --socks5-hostname 127.0.0.1:1080 http://...
PORT may be left out: $ATSOCK_PORT, else the one serial port that answers AT
wiring, USB ports, ModemManager, permissions: {docs_link("hardware")}"""
TRACE_FORMAT = "%(asctime)s.%(msecs)03d %(levelname)s %(name)s: %(message)s"


class IntermixedParser(argparse.ArgumentParser):
    """A subcommand's parser that takes options anywhere among its positional arguments."""

    _parsing = False

    def parse_known_args(self, args=None, namespace=None):
        if self._parsing:  # parse_known_intermixed_args calls us back for each of its two passes
            return super().parse_known_args(args, namespace)
        self._parsing = True
        try:
            return self.parse_known_intermixed_args(args, namespace)
        finally:
            self._parsing = False


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("-v", "--verbose", action="store_true", help="log what happens (INFO)")
    common.add_argument("--trace", action="store_true",
                        help="show every command and answer on the wire, with times (stderr)")
    parser = argparse.ArgumentParser(
        prog="atsock", formatter_class=argparse.RawDescriptionHelpFormatter, epilog=EPILOG,
        description="Use a Quectel cellular module or an ESP8285/ESP8266 Wi-Fi module over its AT commands: "
                    "find its port, inspect it, talk AT, fetch a URL, or let host programs use its TCP/IP "
                    "stack through a SOCKS5 proxy or a port forwarder.")
    parser.add_argument("--version", action="version", version=f"atsock {__version__}")
    parser.add_argument("--print-completion", choices=("bash", "zsh"), metavar="SHELL",
                        help="print a completion script for bash or zsh and exit (needs atsock[cli]); e.g. "
                             "atsock --print-completion bash > ~/.local/share/bash-completion/completions/atsock")
    parser.add_argument("--print-man", action="store_true", help="print the man page (roff) and exit "
                        "(needs atsock[cli]); e.g. atsock --print-man > atsock.1 && man ./atsock.1")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=IntermixedParser)
    for command in COMMANDS:
        command.add_parser(subparsers, [common])
    return parser


def setup_logging(args) -> None:
    handler = logging.StreamHandler(sys.stderr)
    detailed = args.verbose or args.trace
    handler.setFormatter(logging.Formatter(TRACE_FORMAT if detailed else "atsock: %(message)s", "%H:%M:%S"))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.INFO if args.verbose else logging.WARNING)
    logging.getLogger("transitions").setLevel(logging.WARNING)
    if args.trace:
        logging.getLogger("atsock.at").setLevel(logging.DEBUG)


def main(argv: Optional[List[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.print_completion or args.print_man:
        return generated(parser, args)
    if args.command is None:
        parser.error("a COMMAND is needed (atsock --help lists them)")
    setup_logging(args)
    try:
        return args.run(args)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 141  # e.g. `atsock get ... | head`
    except (OSError, ValueError) as exc:
        print(f"atsock {args.command}: {explain(exc, getattr(args, 'port', None))}", file=sys.stderr)
        return 1


def generated(parser: argparse.ArgumentParser, args) -> int:
    """The completion script or the man page, made from the parser by shtab / argparse-manpage."""
    try:
        if args.print_completion:
            import shtab

            print(shtab.complete(parser, shell=args.print_completion))
        else:
            from argparse_manpage.manpage import Manpage

            print(Manpage(parser, {"project_name": "atsock", "version": __version__, "manual_title": "User Commands",
                                   "manual_section": "1"}))
    except ImportError as exc:
        print(f"atsock: {exc.name} is not installed: pip install 'atsock[cli]'", file=sys.stderr)
        return 1
    return 0
