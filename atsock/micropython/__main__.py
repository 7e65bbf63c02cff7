"""``python -m atsock.micropython FILE [--flavour F] [--port P --dialect D ...] [-- ARG...]``: run a MicroPython
program from a shell, with the flavour's modules behind its imports (``atsock.micropython.load``).

With ``--port`` the modem is opened first (the dialect's settings as ``atsock get`` takes them);
under the ``maixpy`` flavour the program opens it itself (``network.ESP8285(uart)``), on that port.
"""
import argparse
import logging
import sys
from pathlib import Path
from typing import List, Optional

from . import load
from .. import platforms


def parse(argv: Optional[List[str]]) -> argparse.Namespace:
    from ..cli.options import add_modem_options  # the same modem options as the atsock command
    parser = argparse.ArgumentParser(prog="python -m atsock.micropython",
                                     description="Run a MicroPython program on this machine, its network "
                                                 "through a modem.")
    parser.add_argument("file", help="the program (run as __main__)")
    parser.add_argument("--flavour", choices=platforms.FLAVOURS, default="micropython",
                        help="which port's modules it imports (default micropython)")
    parser.add_argument("-p", "--port", help="the modem's serial port (opened before the program runs)")
    add_modem_options(parser)
    parser.epilog = "Arguments after -- are the program's own (its sys.argv[1:])."
    argv = sys.argv[1:] if argv is None else argv
    cut = argv.index("--") if "--" in argv else len(argv)
    args = parser.parse_args(argv[:cut])
    args.args = argv[cut + 1:]
    return args


def main(argv: Optional[List[str]] = None) -> int:
    args = parse(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("transitions").setLevel(logging.WARNING)
    sys.argv = [args.file, *args.args]  # as python FILE ARGS would give the program
    sys.path.insert(0, str(Path(args.file).resolve().parent))  # its neighbours import, as python FILE finds them
    if args.port is None or args.flavour == "maixpy":
        load(args.file, flavour=args.flavour, port=args.port)
        return 0
    from ..cli.options import open_modem
    with open_modem(args):
        load(args.file, flavour=args.flavour)
    return 0


if __name__ == "__main__":
    sys.exit(main())
