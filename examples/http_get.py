"""Fetch a web page through a modem's own TCP/IP stack, with MicroPython-style socket code.

By default everything runs on this machine: a small HTTP server on 127.0.0.1, an emulated Quectel
modem on a pty (fakemodem) that knows the server as ``demo.test``, and atsock talking AT commands
to it. With ``--port`` it uses a real modem instead:

    python examples/http_get.py                                   # emulated modem, local server
    python examples/http_get.py --ipv6                            # the same over IPv6 (::1)
    python examples/http_get.py --port /dev/ttyUSB2 --apn internet http://example.org/
"""
import argparse
import http.server
import socket
import sys
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout too

import atsock as usocket  # noqa: E402

DEMO_PAGE = b"""<!doctype html>
<html><head><title>atsock demo</title></head>
<body><h1>Hello through the modem</h1>
<p>This page travelled over AT+QIRD, one 1500-byte read at a time.</p></body></html>
"""


def http_get(url: str) -> bytes:
    """The part a MicroPython board would run unchanged."""
    _, _, host_port, path = url.split("/", 3)
    host, _, port = host_port.partition(":")
    ai = usocket.getaddrinfo(host, int(port or 80))[0]  # IPv4 or IPv6, as the name resolves
    s = usocket.socket(ai[0], ai[1], ai[2])
    s.settimeout(30)
    s.connect(ai[-1])
    s.write(b"GET /%s HTTP/1.0\r\nHost: %s\r\n\r\n" % (path.encode(), host.encode()))
    response = s.read()
    s.close()
    return response


def serve_demo_page(ipv6: bool = False) -> http.server.HTTPServer:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(DEMO_PAGE)))
            self.end_headers()
            self.wfile.write(DEMO_PAGE)

        def log_message(self, *args):
            pass

    class Server(http.server.ThreadingHTTPServer):
        address_family = socket.AF_INET6 if ipv6 else socket.AF_INET

    server = Server(("::1" if ipv6 else "127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url", nargs="?", help="page to fetch (default: the local demo page)")
    parser.add_argument("--port", help="serial port of a real modem (default: an emulated one)")
    parser.add_argument("--apn", default="internet")
    parser.add_argument("--dialect", default="quectel")
    parser.add_argument("--ipv6", action="store_true", help="an IPv4v6 data context; the local server on ::1")
    args = parser.parse_args(argv)
    settings = dict(apn=args.apn, **({"ip_version": "ipv4v6"} if args.ipv6 else {}))

    if args.port:
        with usocket.open_modem(args.port, dialect=args.dialect, **settings) as modem:
            page = http_get(args.url or "http://example.org/")
            stats = modem.stats
    else:
        from fakemodem import FakeModem

        server = serve_demo_page(args.ipv6)
        url = args.url or f"http://demo.test:{server.server_address[1]}/index.html"
        try:
            with FakeModem(args.dialect, hosts={"demo.test": "::1" if args.ipv6 else "127.0.0.1"}) as fake:
                with usocket.open_modem(fake.port, dialect=args.dialect, **settings) as modem:
                    before = modem.stats["commands"]
                    page = http_get(url)
                    stats = modem.stats
                    stats["fetch_commands"] = stats["commands"] - before
        finally:
            server.shutdown()

    sys.stdout.write(page.decode("utf-8", "replace"))
    sys.stdout.write("\n---\n")
    total = stats["commands"]
    fetch = stats.get("fetch_commands", total)
    print(f"{len(page)} bytes received; {fetch} AT commands for the fetch, {total} including modem bring-up")
    print("commands by name: " + ", ".join(f"{name} x{count}" for name, count in sorted(stats["by_name"].items())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
