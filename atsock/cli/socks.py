"""``atsock socks PORT --listen 127.0.0.1:1080``: a SOCKS5 proxy whose connections are the modem's sockets.

Host programs that speak SOCKS5 (curl ``--socks5-hostname``, ``requests`` with ``socks5h://``, browsers)
then use the module's TCP/IP stack unmodified; with ``socks5h`` the modem resolves the names too.
"""
import logging

from . import socks5
from .exporter import add_metrics_option
from .options import add_modem_options, format_address, host_port
from .dial import connect
from .relay import Server, serve_through_modem

log = logging.getLogger("atsock.cli.socks")

HANDSHAKE_TIMEOUT = 10.0


def add_parser(subparsers, parents):
    parser = subparsers.add_parser(
        "socks", parents=parents, help="SOCKS5 proxy over the modem (curl --socks5-hostname, requests socks5h)",
        description="Serve a SOCKS5 proxy (RFC 1928: CONNECT, no authentication, IPv4/IPv6/domain addresses, "
                    "domain names resolved by the modem) whose connections go out through the modem's TCP/IP "
                    "stack. Clients share the module's sockets; when all are in use a new client waits up to "
                    "--wait seconds and is then refused with a SOCKS failure reply.")
    parser.add_argument("--listen", type=lambda text: host_port(text, 1080), default=("127.0.0.1", 1080),
                        metavar="HOST:PORT", help="where to accept clients (default 127.0.0.1:1080; anything but "
                        "loopback lets other machines use the modem, and is logged as a warning)")
    parser.add_argument("--wait", type=float, default=0.0, metavar="SECONDS",
                        help="how long a client may wait for one of the module's sockets (default 0: refuse at once)")
    parser.add_argument("--connect-timeout", type=float, default=30.0, metavar="SECONDS",
                        help="give up connecting to the destination after this long (default 30; an ESP-AT "
                             "module runs a connect to its end, so there its own verdict is awaited)")
    add_modem_options(parser)
    add_metrics_option(parser)
    parser.set_defaults(run=run)


def run(args) -> int:
    return serve_through_modem(args, serve_client, lambda listening: f"SOCKS5 proxy listening on {format_address(listening.getsockname())} ")


def serve_client(client, address, modem, server: Server, args) -> None:
    slots = server.slots
    name = format_address(address)
    client.settimeout(HANDSHAKE_TIMEOUT)
    try:
        host, port, _ = socks5.negotiate(client)
    except (socks5.SocksError, OSError) as exc:
        log.info("%s: %s", name, exc)
        code = getattr(exc, "code", None)
        _refuse(client, code)
        return
    name = f"{name} -> {format_address((host, port))}"
    if not slots.take(args.wait):
        log.warning("%s refused: all %d sockets of the modem are in use", name, slots.count)
        _refuse(client, socks5.GENERAL_FAILURE)
        return
    try:
        remote = connect(modem, host, port, args.connect_timeout)
    except (OSError, ValueError) as exc:
        slots.give_back()
        code = socks5.reply_code(exc) if isinstance(exc, OSError) else socks5.HOST_UNREACHABLE
        log.warning("%s failed: %s", name, exc)
        _refuse(client, code)
        return
    try:
        client.sendall(socks5.reply(socks5.SUCCEEDED))
        client.settimeout(None)
    except OSError:
        remote.close()
        slots.give_back()
        client.close()
        return
    server.relay(client, remote, name)


def _refuse(client, code) -> None:
    try:
        if code is not None:
            client.sendall(socks5.reply(code))
    except OSError:
        pass
    client.close()
