"""Fixtures: real peers on 127.0.0.1 and an emulated modem on a pty, with atsock opened on it."""
import http.server
import logging
import os
import socket
import ssl
import sys
import threading

import pytest
import trustme
from hypothesis import settings

import atsock
from fakemodem import FakeModem

logging.getLogger("transitions").setLevel(logging.WARNING)  # its INFO chatter drowns the wire trace

# hypothesis's per-example deadline is a timed assertion: on a loaded machine a plain computation takes
# 300 ms now and then, and that is no defect; every property test runs without one
settings.register_profile("atsock", deadline=None)
settings.load_profile("atsock")

# names atsock.install() may put in sys.modules: restored after every test, so that one test's
# install(standard_names=True) never hands atsock to a later import of "socket" (pyserial's, say)
_INSTALLABLE = ("socket", "select", "ssl", "time", "usocket", "uselect", "ussl", "tls", "utime", "network",
                "ustruct", "ubinascii", "uerrno", "uio", "ujson", "ure", "uhashlib", "ucollections", "uzlib", "uos",
                "checkNet", "log", "machine", "fm", "board_info", "fpioa_manager", "board", "asyncio", "uasyncio")


@pytest.fixture(autouse=True)
def _sys_modules_restored():
    saved = {name: sys.modules.get(name) for name in _INSTALLABLE}
    yield
    for name, module in saved.items():
        if module is None:
            sys.modules.pop(name, None)
        else:
            sys.modules[name] = module


# The quick subset for an edit-test loop is `pytest -m quick` (README, "Working on atsock"): the
# parser, the machines, the command builder, the import graph and the command line's pieces, and
# end to end the socket calls of both dialects (TCP, UDP, servers, poll). The rest (recovery,
# fault matrices, soaks, fuzzing, TLS, asyncio, data mode, the docs) runs in the whole suite.
QUICK_MODULES = frozenset({
    "test_channel.py", "test_lifecycle.py", "test_structure.py", "test_fakemodem_imports.py", "test_diagrams.py",
    "test_cli_answers.py", "test_cli_portroles.py", "test_cli_main.py", "test_packaging.py", "test_readiness.py",
    "test_profiles.py", "test_oracle_commands.py", "test_surface.py", "test_send_chunks.py", "test_transports.py",
    "test_raw_mode.py", "test_recorder.py", "test_tcp_client.py", "test_udp.py", "test_server.py", "test_poll.py",
})


def pytest_collection_modifyitems(items):
    for item in items:
        if item.path.name in QUICK_MODULES:
            item.add_marker(pytest.mark.quick)


HOSTS = {"echo.test": "127.0.0.1", "www.test": "127.0.0.1"}


class TcpServer:
    """A threaded TCP server on 127.0.0.1 (or ``host``, "::1" say) running ``handler(conn)`` for every client."""

    def __init__(self, handler, host="127.0.0.1"):
        self._sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
        self._sock.bind((host, 0))
        self._sock.listen(16)
        self.port = self._sock.getsockname()[1]
        self._handler = handler
        self._threads = []
        self._accepting = threading.Thread(target=self._accept, daemon=True)
        self._accepting.start()

    def _accept(self):
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            worker = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            worker.start()
            self._threads.append(worker)

    def _serve(self, conn):
        with conn:
            try:
                self._handler(conn)
            except OSError:
                pass

    def close(self):
        self._sock.close()


def echo_handler(conn):
    while True:
        data = conn.recv(65536)
        if not data:
            return
        conn.sendall(data)


@pytest.fixture
def echo_server():
    server = TcpServer(echo_handler)
    yield server
    server.close()


@pytest.fixture
def tcp_server():
    """Factory: ``tcp_server(handler)`` starts a server with a custom per-connection handler."""
    servers = []

    def start(handler):
        server = TcpServer(handler)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.close()


@pytest.fixture
def http_server(tmp_path):
    (tmp_path / "index.html").write_bytes(b"<html><body>hello from the test server</body></html>\n")
    (tmp_path / "blob.bin").write_bytes(os.urandom(200_000))
    handler = lambda *a, **k: http.server.SimpleHTTPRequestHandler(*a, directory=str(tmp_path), **k)
    http.server.SimpleHTTPRequestHandler.log_message = lambda *a: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    server.root = tmp_path
    yield server
    server.shutdown()
    server.server_close()


DIALECTS = ["quectel", "esp8285"]
WIFI = {"ssid": "lab-net", "key": "s3cret,\"pass\\"}  # characters ESP-AT needs escaped


def emulator_options(dialect):
    if dialect == "quectel":
        return dict(hosts=HOSTS, blackhole={"127.0.0.66"})
    return dict(hosts=HOSTS, blackhole={"127.0.0.66"}, networks={WIFI["ssid"]: WIFI["key"]}, connect_timeout=2.0)


def modem_settings(dialect):
    return dict(apn="internet") if dialect == "quectel" else dict(WIFI)


def open_ids(fm):
    """The module's socket/link ids in use, read inside the emulator."""
    return fm.call(fm.module.open_ids)


@pytest.fixture(params=DIALECTS)
def dialect(request):
    return request.param


@pytest.fixture
def fake_modem(dialect):
    with FakeModem(dialect, **emulator_options(dialect)) as fm:
        yield fm


@pytest.fixture
def modem(fake_modem, dialect):
    with atsock.open_modem(fake_modem.port, dialect=dialect, **modem_settings(dialect)) as m:
        yield m


@pytest.fixture
def quectel_fake_modem():
    with FakeModem("quectel", **emulator_options("quectel")) as fm:
        yield fm


@pytest.fixture
def quectel_modem(quectel_fake_modem):
    with atsock.open_modem(quectel_fake_modem.port, dialect="quectel", apn="internet") as m:
        yield m


class UdpEcho:
    """A UDP server on 127.0.0.1 (or ``host``) that sends every datagram back, prefixed with ``prefix``."""

    def __init__(self, prefix=b"", host="127.0.0.1"):
        self.sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((host, 0))
        self.port = self.sock.getsockname()[1]
        self.prefix = prefix
        self.seen = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                data, sender = self.sock.recvfrom(65536)
            except OSError:
                return
            self.seen.append((data, sender))
            self.sock.sendto(self.prefix + data, sender)

    def close(self):
        self.sock.close()


@pytest.fixture
def udp_echo():
    server = UdpEcho()
    yield server
    server.close()


# --- files to fetch, and https: a throw-away CA -----------------------------------------------------
MIB = 1024 * 1024


@pytest.fixture
def mib(http_server):
    """A mebibyte of random bytes served by http_server as /mib.bin."""
    data = os.urandom(MIB)
    (http_server.root / "mib.bin").write_bytes(data)
    return data


@pytest.fixture(scope="module")
def ca():
    return trustme.CA()


@pytest.fixture
def https_server(http_server, ca):
    """The http_server's files over TLS, with a certificate for www.test from a throw-away CA."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert("www.test").configure_cert(context)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http_server.RequestHandlerClass)
    server.socket = context.wrap_socket(server.socket, server_side=True, do_handshake_on_connect=False)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    server.root = http_server.root
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def ca_file(ca, tmp_path):
    path = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return path
