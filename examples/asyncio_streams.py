"""Run MicroPython asyncio code (examples/platforms/openmv_asyncio.py, in the style of OpenMV's
"Sockets with asyncio") unmodified on CPython, every stream through a modem.

By default everything runs on this machine: a TCP echo server on 127.0.0.1 and an emulated modem
(fakemodem) that knows it as ``echo.test``. With ``--port`` it uses a real modem instead, and
``--host``/``--echo-port`` name an echo server the modem can reach:

    python examples/asyncio_streams.py
    python examples/asyncio_streams.py --dialect esp8285
    python examples/asyncio_streams.py --port /dev/ttyUSB2 --apn internet --host tcpbin.com --echo-port 4242
"""
import argparse
import socket
import socketserver
import sys
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout too

import atsock  # noqa: E402
from atsock import micropython  # noqa: E402

PROGRAM = Path(__file__).resolve().parent / "platforms" / "openmv_asyncio.py"
WIFI = ("demo-net", "demo-pass")


def echo_server() -> socketserver.ThreadingTCPServer:
    class Echo(socketserver.StreamRequestHandler):
        def handle(self):
            for line in self.rfile:
                self.wfile.write(line)

    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Echo)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def settings(dialect: str, apn: str) -> dict:
    return dict(apn=apn) if dialect == "quectel" else dict(ssid=WIFI[0], key=WIFI[1])


def run_program(modem, host: str, port: int, server_port: int) -> int:
    before = modem.stats["commands"]
    program = micropython.load(PROGRAM)
    replies, own, beats = program.run(host, port, server_port)
    for reply in replies + [own]:
        print(reply.decode().rstrip())
    print(f"heartbeats meanwhile: {beats}; AT commands for all of it: {modem.stats['commands'] - before}")
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", help="serial port of a real modem (default: an emulated one)")
    parser.add_argument("--dialect", default="quectel", choices=["quectel", "esp8285"])
    parser.add_argument("--apn", default="internet")
    parser.add_argument("--host", help="an echo server the modem reaches (with --port)")
    parser.add_argument("--echo-port", type=int)
    parser.add_argument("--server-port", type=int, help="where the program's own server listens")
    args = parser.parse_args(argv)
    server_port = args.server_port or free_port()
    if args.port:
        with atsock.open_modem(args.port, dialect=args.dialect, **settings(args.dialect, args.apn)) as modem:
            return run_program(modem, args.host, args.echo_port, server_port)

    from fakemodem import FakeModem

    echo = echo_server()
    options = dict(hosts={"echo.test": "127.0.0.1"})
    if args.dialect == "esp8285":
        options["networks"] = {WIFI[0]: WIFI[1]}
    try:
        with FakeModem(args.dialect, **options) as fake:
            with atsock.open_modem(fake.port, dialect=args.dialect, **settings(args.dialect, args.apn)) as modem:
                return run_program(modem, "echo.test", echo.server_address[1], server_port)
    finally:
        echo.shutdown()


if __name__ == "__main__":
    sys.exit(main())
