"""Ordinary Python libraries through the modem, in-process: one line, ``atsock.install(standard_names=True)``,
and ``requests`` (or ``urllib.request``, ``paho-mqtt``, ``aiohttp``...) imported afterwards use the
modem's TCP/IP stack, unmodified.

By default everything runs on this machine: a small HTTP server on 127.0.0.1 and an emulated
Quectel modem that knows it as ``demo.test``. With ``--port`` it uses a real modem:

    python examples/requests_in_process.py
    python examples/requests_in_process.py --port /dev/ttyUSB2 --apn internet https://example.org/
"""
import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # _local, for the stand-ins

import _local  # noqa: E402  (its HTTP server is the outside world: it stays on the host's network)

import atsock  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url", nargs="?", help="what to fetch (default: the local demo page)")
    parser.add_argument("--port", help="a real modem's serial port (default: an emulated one)")
    parser.add_argument("--dialect", choices=("quectel", "esp8285"), default="quectel")
    parser.add_argument("--apn", default="internet", help="quectel: the data context's APN")
    parser.add_argument("--ssid", help="esp8285: the Wi-Fi network to join")
    parser.add_argument("--key", help="esp8285: its password")
    args = parser.parse_args()
    settings = {"apn": args.apn} if args.dialect == "quectel" else {"ssid": args.ssid, "key": args.key}

    emulator = None
    url = args.url
    if args.port is None:
        server = _local.http_server({"/": b"<h1>Hello from requests, through the modem</h1>\n"})
        from fakemodem import FakeModem
        emulator = FakeModem("quectel", hosts={"demo.test": "127.0.0.1"})
        args.port, url, args.dialect, settings = (emulator.port, url or f"http://demo.test:{server.server_address[1]}/",
                                                  "quectel", {"apn": "internet"})
    try:
        with atsock.open_modem(args.port, dialect=args.dialect, **settings) as modem:
            atsock.install(standard_names=True)  # the one line: socket, select, ssl, asyncio from here on
            import requests                      # imported afterwards, so it uses the modem

            before = modem.stats["commands"]
            response = requests.get(url, timeout=60)
            print(response.status_code, response.text.strip()[:200])
            print(f"{modem.stats['commands'] - before} AT commands for the request")
    finally:
        if emulator is not None:
            emulator.close()


if __name__ == "__main__":
    main()
