"""``atsock forward PORT --listen 127.0.0.1:8080 --to HOST:PORT``: every client connected to HOST:PORT
through the modem, for programs that cannot speak SOCKS (an MQTT client, a database shell...)."""
import logging

from .exporter import add_metrics_option
from .options import add_modem_options, format_address, host_port
from .dial import connect
from .relay import Server, serve_through_modem

log = logging.getLogger("atsock.cli.forward")


def add_parser(subparsers, parents):
    parser = subparsers.add_parser(
        "forward", parents=parents, help="forward a local TCP port to HOST:PORT through the modem",
        description="Accept TCP clients on --listen and connect each one to --to HOST:PORT through the modem's "
                    "TCP/IP stack (HOST resolved by the modem). When all of the module's sockets are in use a new "
                    "client waits up to --wait seconds, then its connection is closed at once.")
    parser.add_argument("--listen", type=host_port, required=True, metavar="HOST:PORT",
                        help="where to accept clients (PORT alone means 127.0.0.1:PORT; anything but loopback "
                             "lets other machines use the modem, and is logged as a warning)")
    parser.add_argument("--to", type=host_port, required=True, metavar="HOST:PORT", dest="target",
                        help="destination, reached through the modem")
    parser.add_argument("--wait", type=float, default=0.0, metavar="SECONDS",
                        help="how long a client may wait for one of the module's sockets (default 0)")
    parser.add_argument("--connect-timeout", type=float, default=30.0, metavar="SECONDS",
                        help="give up connecting to the destination after this long (default 30; an ESP-AT "
                             "module runs a connect to its end, so there its own verdict is awaited)")
    add_modem_options(parser)
    add_metrics_option(parser)
    parser.set_defaults(run=run)


def run(args) -> int:
    return serve_through_modem(args, serve_client, lambda listening: f"forwarding {format_address(listening.getsockname())} to {format_address(args.target)} ")


def serve_client(client, address, modem, server: Server, args) -> None:
    slots = server.slots
    name = f"{format_address(address)} -> {format_address(args.target)}"
    if not slots.take(args.wait):
        log.warning("%s refused: all %d sockets of the modem are in use", name, slots.count)
        client.close()
        return
    try:
        remote = connect(modem, args.target[0], args.target[1], args.connect_timeout)
    except (OSError, ValueError) as exc:
        slots.give_back()
        log.warning("%s failed: %s", name, exc)
        client.close()
        return
    server.relay(client, remote, name)
