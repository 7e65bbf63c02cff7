"""``atsock get URL [-o FILE]``: an HTTP GET through the modem, with a progress bar on a terminal."""
import os
import sys

from .httpget import get, parse_url, tls_wrapper
from .options import add_modem_options, open_modem
from .progress import ProgressBar


def add_parser(subparsers, parents):
    parser = subparsers.add_parser(
        "get", parents=parents, help="fetch a URL through the modem (HTTP GET)",
        description="Fetch URL through the modem's TCP/IP stack (HTTP/1.1 GET, redirects followed) and write "
                    "the body to FILE or stdout. A progress bar (bytes, rate, ETA) is drawn on stderr when it "
                    "is a terminal and the body does not go to the terminal. https:// runs TLS on this host over the "
                    "modem's TCP socket and verifies the server against the system's CA certificates.")
    parser.add_argument("url")
    parser.add_argument("-o", "--output", metavar="FILE", help="write the body here (default: stdout)")
    parser.add_argument("-p", "--port", default=os.environ.get("ATSOCK_PORT"),
                        help="the modem's serial port (default: $ATSOCK_PORT)")
    add_modem_options(parser)
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
    if not args.port:
        raise ValueError("which serial port? give --port PORT or set ATSOCK_PORT (atsock ports lists them)")
    parse_url(args.url)
    wrap = tls_wrapper(args.cacert, verify=not args.insecure)  # a bad CA file fails before the modem opens
    to_terminal = args.output is None and sys.stdout.isatty()
    show_progress = sys.stderr.isatty() and not to_terminal
    partial = f"{args.output}.part" if args.output else None
    sink = open(partial, "wb") if partial else sys.stdout.buffer
    bar = None

    def start(response):
        nonlocal bar
        if show_progress:
            bar = ProgressBar(sys.stderr, response.length)

    try:
        with open_modem(args) as modem:
            get(modem, args.url, sink.write, on_start=start, on_data=lambda n: bar and bar.update(n),
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
        os.replace(partial, args.output)
    else:
        sink.flush()
    return 0
