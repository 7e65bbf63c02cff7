"""``python -m fakemodem DIALECT [options]``: serve an emulated module on a pty until interrupted.

The first line on stdout is the pty path to open; everything after it is log output on stderr.
"""
import argparse
import logging
import signal
import sys
import threading

from . import dialects
from .core import FakeModem
from .faults import parse_cli


def _host(text: str):
    name, sep, address = text.partition("=")
    if not sep or not name or not address:
        raise argparse.ArgumentTypeError(f"expected NAME=ADDRESS, got {text!r}")
    return name, address


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fakemodem", description=__doc__.splitlines()[0])
    parser.add_argument("dialect", choices=dialects.NAMES)
    parser.add_argument("--host", action="append", type=_host, default=[], metavar="NAME=ADDRESS",
                        help="answer DNS lookups of NAME with ADDRESS (repeatable)")
    parser.add_argument("--blackhole", action="append", default=[], metavar="ADDRESS",
                        help="never answer connections to ADDRESS (repeatable)")
    parser.add_argument("--network", action="append", type=_host, default=[], metavar="SSID=PASSWORD",
                        help="esp8285: a Wi-Fi network the module can join (repeatable)")
    parser.add_argument("--firmware", help="esp8285: AT firmware version, 1.x (default 1.7.4) or 2.x")
    parser.add_argument("--identity", action="append", type=_host, default=[], metavar="NAME=VALUE",
                        help="an identification value, e.g. imei=866349041749536 or rssi=12 (fakemodem/identity.py)")
    parser.add_argument("--baudrate", type=int, help="pace the serial line at this rate (10 bits a byte)")
    parser.add_argument("--latency", type=float, default=0.0, metavar="SECONDS",
                        help="delay before the module answers each command")
    parser.add_argument("--registration-delay", type=float, default=0.0, metavar="SECONDS",
                        help="quectel: time from boot until the network registration succeeds")
    parser.add_argument("--fault", action="append", default=[], metavar="NAME=VALUE",
                        help="inject a fault (see fakemodem/faults.py), e.g. split=0.2 or delay=0.01")
    parser.add_argument("--seed", type=int, help="seed for the fault choices (reproducible runs)")
    parser.add_argument("--link", metavar="PATH", help="also expose the port as a symlink at PATH")
    parser.add_argument("-v", "--verbose", action="store_true", help="log every command to stderr")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING, stream=sys.stderr)

    hosts = {}
    for name, address in args.host:
        hosts.setdefault(name, []).append(address)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    options = dict(hosts=hosts, blackhole=args.blackhole, latency=args.latency, identity=dict(args.identity))
    if args.dialect == "esp8285":
        options["networks"] = dict(args.network)
        if args.firmware:
            options["firmware"] = args.firmware
    else:
        options["registration_delay"] = args.registration_delay
    with FakeModem(args.dialect, baudrate=args.baudrate, faults=parse_cli(args.fault), seed=args.seed,
                   link_path=args.link, **options) as modem:
        print(modem.port, flush=True)
        stop.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
