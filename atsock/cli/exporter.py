"""``--metrics HOST:PORT`` for the commands that keep running (``socks``, ``forward``): the modem's
Prometheus metrics (:mod:`atsock.metrics`) served over HTTP at ``http://HOST:PORT/metrics``."""
import errno
import ipaddress
import logging
from contextlib import contextmanager
from typing import Iterator, Optional, Tuple

from .options import format_address, host_port

log = logging.getLogger("atsock.cli")

DEFAULT_PORT = 9108  # the port commonly taken by exporters of this kind (Prometheus' allocation list)


def add_metrics_option(parser) -> None:
    parser.add_argument("--metrics", type=lambda text: host_port(text, DEFAULT_PORT), metavar="HOST:PORT",
                        help="serve the modem's Prometheus metrics at http://HOST:PORT/metrics (PORT alone means "
                             "127.0.0.1:PORT; needs the metrics extra: pip install 'atsock[metrics]')")


@contextmanager
def metrics_served(address: Optional[Tuple[str, int]], modem) -> Iterator[Optional[str]]:
    """While the block runs, the metrics at ``address``; yields their URL (None without an address)."""
    if address is None:
        yield None
        return
    try:
        from prometheus_client import CollectorRegistry, start_http_server

        from ..metrics import ModemCollector
    except ImportError:
        raise ValueError("--metrics needs prometheus_client: pip install 'atsock[metrics]'") from None
    registry = CollectorRegistry()
    collector = ModemCollector(modem)
    registry.register(collector)
    try:
        server, thread = start_http_server(address[1], addr=address[0], registry=registry)
    except OSError as exc:
        collector.close()
        if exc.errno == errno.EADDRINUSE:  # as --listen says it
            raise OSError(errno.EADDRINUSE, f"{format_address(address)} is already in use by another program: "
                                            "choose another address with --metrics") from None
        raise
    host = server.server_address[0]
    if not ipaddress.ip_address(host.split("%")[0]).is_loopback:
        log.warning("metrics served on %s, which is not loopback: other machines can read them",
                    format_address(server.server_address))
    try:
        yield f"http://{format_address(server.server_address)}/metrics"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
        collector.close()
