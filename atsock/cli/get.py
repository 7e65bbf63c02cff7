"""``atsock get [PORT] URL [-o FILE]``: an HTTP GET through the modem, with a progress bar on a terminal.

The exit status tells the kind of failure apart, with curl's numbers where curl has one, so that a
script can react to "the server said 404" differently from "there is no modem". It is decided here
from where the failure happened and from the standard exception types, not from the HTTP reader.
"""
import argparse
import errno
import os
import socket
import ssl
import sys

from .explain import explain
from .httpget import get, parse_url, tls_wrapper
from .options import add_modem_options, open_modem
from .progress import ProgressBar

#: exit status -> what it means (curl's numbers; 69 is sysexits' EX_UNAVAILABLE)
EXIT_CODES = {
    1: "any other failure", 2: "wrong arguments", 3: "malformed URL", 6: "the modem could not resolve the host",
    7: "the connection was refused or the host unreachable", 22: "the server answered with an HTTP error (400 or more)",
    23: "the body could not be written (or is binary and would go to a terminal)", 28: "timed out",
    35: "the TLS handshake failed", 60: "the server's certificate is not trusted or does not match its name",
    69: "no modem: the port is missing or busy, the module does not answer, or it cannot get online",
}
UNREACHABLE = frozenset({errno.ECONNREFUSED, errno.EHOSTUNREACH, errno.ENETUNREACH, errno.ECONNRESET})
BINARY_SNIFF = 2048  # bytes of the body looked at before it goes to a terminal


class NoModem(Exception):
    """Opening the modem failed: the cause, for the exit status 69."""


class BinaryToTerminal(OSError):
    def __init__(self):
        super().__init__(errno.EIO, "the body is binary and stdout is a terminal: give -o FILE "
                                    "(or -o - to write it to the terminal anyway)")


def add_parser(subparsers, parents):
    parser = subparsers.add_parser(
        "get", parents=parents, help="fetch a URL through the modem (HTTP GET)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Fetch URL through the modem's TCP/IP stack (HTTP/1.1 GET, redirects followed) and write "
                    "the body to FILE or stdout. A progress bar (bytes, rate, ETA) is drawn on stderr when it "
                    "is a terminal and the body does not go to the terminal. https:// runs TLS on this host over the "
                    "modem's TCP socket and verifies the server against the system's CA certificates.",
        epilog="exit status:\n" + "\n".join(f"  {code:>3}  {text}" for code, text in EXIT_CODES.items()))
    add_modem_options(parser)
    parser.add_argument("url", metavar="URL")
    parser.add_argument("-o", "--output", metavar="FILE", help="write the body here (default: stdout; '-' is "
                        "stdout even when it is a terminal and the body is binary)")
    parser.add_argument("--http1.0", dest="http10", action="store_true", help="speak HTTP/1.0 instead of 1.1")
    parser.add_argument("--max-redirects", type=int, default=5, help="follow at most this many (default 5)")
    parser.add_argument("--timeout", type=float, default=60.0, metavar="SECONDS",
                        help="give up when the server is silent this long (default 60)")
    trust = parser.add_mutually_exclusive_group()
    trust.add_argument("--cacert", metavar="FILE",
                       help="https: trust only the CA certificates in FILE (PEM) instead of the system's")
    trust.add_argument("-k", "--insecure", action="store_true",
                       help="https: do not verify the server's certificate or name")
    parser.set_defaults(run=run)


def run(args) -> int:
    if args.port and args.port.startswith(("http://", "https://")):  # `atsock get URL PORT`: the same
        args.port, args.url = args.url, args.port
    try:
        parse_url(args.url)
    except ValueError as exc:
        print(f"atsock get: {exc}", file=sys.stderr)
        return 3
    try:
        return fetch(args)
    except NoModem as exc:
        print(f"atsock get: {explain(exc.__cause__, args.port)}", file=sys.stderr)
        return 69
    except BinaryToTerminal as exc:
        print(f"atsock get: {exc.strerror}", file=sys.stderr)
        return 23
    except (OSError, ValueError) as exc:
        code = exit_code(exc)
        if code == 1:
            raise  # the command line's own explanation
        print(f"atsock get: {explain(exc, args.port)}", file=sys.stderr)
        return code


def exit_code(exc: BaseException) -> int:
    """curl's number for a failure of the fetch itself (after the modem is online)."""
    if isinstance(exc, socket.gaierror):
        return 6
    if isinstance(exc, ssl.SSLCertVerificationError):
        return 60
    if isinstance(exc, ssl.SSLError):
        return 35
    if isinstance(getattr(exc, "status", None), int) and exc.status >= 400:
        return 22
    if isinstance(exc, TimeoutError) or getattr(exc, "errno", None) == errno.ETIMEDOUT:
        return 28
    if getattr(exc, "errno", None) in UNREACHABLE:
        return 7
    return 1


def fetch(args) -> int:
    wrap = tls_wrapper(args.cacert, verify=not args.insecure)  # a bad CA file fails before the modem opens
    forced = args.output == "-"
    output = None if forced else args.output
    to_terminal = output is None and sys.stdout.isatty()
    show_progress = sys.stderr.isatty() and not to_terminal
    partial = f"{output}.part" if output else None
    sink = open(partial, "wb") if partial else sys.stdout.buffer
    write = _terminal_guard(sink.write) if to_terminal and not forced else sink.write
    bar = None

    def start(response):
        nonlocal bar
        if show_progress:
            bar = ProgressBar(sys.stderr, response.length)

    try:
        try:
            modem = open_modem(args)
        except (OSError, ValueError) as exc:
            raise NoModem() from exc
        with modem:
            get(modem, args.url, write, on_start=start, on_data=lambda n: bar and bar.update(n),
                version="1.0" if args.http10 else "1.1", max_redirects=args.max_redirects, timeout=args.timeout,
                wrap=wrap)
            if bar:
                bar.finish()
    except BaseException:
        if bar:
            sys.stderr.write("\n")  # the error message goes below the bar, not over it
        if partial:
            sink.close()
            os.unlink(partial)
        raise
    if partial:
        sink.close()
        os.replace(partial, output)
    else:
        sink.flush()
    return 0


def _terminal_guard(write):
    """``write`` that refuses a body whose first bytes are not text (a NUL, or not UTF-8)."""
    seen = bytearray()

    def guarded(data: bytes):
        if len(seen) < BINARY_SNIFF:
            seen.extend(data[:BINARY_SNIFF - len(seen)])
            if is_binary(bytes(seen)):
                raise BinaryToTerminal()
        return write(data)

    return guarded


def is_binary(head: bytes) -> bool:
    """A NUL, or bytes that are not UTF-8 (a character cut at the end of ``head`` is not counted)."""
    if b"\0" in head:
        return True
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        return not (exc.reason == "unexpected end of data" and exc.start >= len(head) - 3)
    return False
