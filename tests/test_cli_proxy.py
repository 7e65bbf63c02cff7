"""``atsock socks`` and ``atsock forward``: unmodified host programs (curl, requests, mosquitto clients)
using the emulated modem's sockets, and what happens beyond the module's socket limit."""
import concurrent.futures
import hashlib
import os
import socket
import struct
import subprocess
import time

import pytest
import requests

from fakemodem import FakeModem

from .cli_support import GUARD, Server
from .conftest import TcpServer, emulator_options, open_ids
from .peers import Mosquitto, mosquitto_client
from .test_cli_get import modem_flags

LIMIT = {"quectel": 12, "esp8285": 5}


def socks_server(fm, dialect, *extra):
    return Server("socks", fm.port, "--dialect", dialect, *modem_flags(dialect), "--listen", "127.0.0.1:0", *extra)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# --- unmodified clients ------------------------------------------------------------------------------------
def test_curl_through_socks5_with_names_resolved_by_the_modem(quectel_fake_modem, http_server):
    blob = (http_server.root / "blob.bin").read_bytes()
    port = http_server.server_address[1]
    with socks_server(quectel_fake_modem, "quectel") as proxy:
        by_name = subprocess.run(["curl", "-sS", "--socks5-hostname", proxy.address,
                                  f"http://www.test:{port}/blob.bin"], capture_output=True, timeout=GUARD)
        by_address = subprocess.run(["curl", "-sS", "--socks5", proxy.address, f"http://127.0.0.1:{port}/blob.bin"],
                                    capture_output=True, timeout=GUARD)
        unknown = subprocess.run(["curl", "-sS", "--socks5-hostname", proxy.address, "http://nowhere.test/"],
                                 capture_output=True, timeout=GUARD)
    assert by_name.returncode == 0, by_name.stderr
    assert by_name.stdout == blob and by_address.stdout == blob
    assert unknown.returncode == 97 and b"(4)" in unknown.stderr  # host unreachable: the modem knew no such name


def test_twenty_concurrent_requests_downloads(quectel_fake_modem, http_server):
    files = {f"file{i}.bin": os.urandom(256 * 1024) for i in range(20)}
    for name, data in files.items():
        (http_server.root / name).write_bytes(data)
    port = http_server.server_address[1]
    with socks_server(quectel_fake_modem, "quectel", "--wait", str(GUARD)) as proxy:
        proxies = {"http": f"socks5h://{proxy.address}"}

        def download(name):
            response = requests.get(f"http://www.test:{port}/{name}", proxies=proxies, timeout=GUARD)
            response.raise_for_status()
            return name, sha256(response.content)

        with concurrent.futures.ThreadPoolExecutor(20) as pool:
            results = dict(pool.map(download, files))
    assert results == {name: sha256(data) for name, data in files.items()}
    assert open_ids(quectel_fake_modem) == []  # every module socket given back


# --- beyond the module's sockets -------------------------------------------------------------------------
def socks_connect(proxy: Server, host: str, port: int, atyp: int = 3, command: int = 1):
    """A SOCKS5 CONNECT by hand; returns (reply code, socket)."""
    sock = socket.create_connection((proxy.host, proxy.port), timeout=GUARD)
    sock.sendall(b"\x05\x01\x00")
    assert sock.recv(2) == b"\x05\x00"
    address = bytes([len(host)]) + host.encode() if atyp == 3 else socket.inet_aton(host)
    sock.sendall(bytes([5, command, 0, atyp]) + address + struct.pack("!H", port))
    reply = b""
    while len(reply) < 10:
        piece = sock.recv(10 - len(reply))
        assert piece, "proxy closed without a reply"
        reply += piece
    return reply[1], sock


@pytest.fixture
def holding_server():
    """Accepts, answers 'hi' and keeps each connection open until the client closes it."""
    def hold(conn):
        conn.sendall(b"hi")
        while conn.recv(1024):
            pass

    server = TcpServer(hold)
    yield server
    server.close()


def test_more_socks_clients_than_the_module_has_sockets(dialect, holding_server):
    limit = LIMIT[dialect]
    with FakeModem(dialect, **emulator_options(dialect)) as fm, socks_server(fm, dialect) as proxy:
        held = []
        for _ in range(limit):
            code, sock = socks_connect(proxy, "echo.test", holding_server.port)
            assert code == 0 and sock.recv(2) == b"hi"
            held.append(sock)
        assert len(open_ids(fm)) == limit
        code, extra = socks_connect(proxy, "echo.test", holding_server.port)
        assert code == 1  # general failure: no socket left, refused at once
        assert extra.recv(1) == b""
        held.pop().close()
        deadline = time.monotonic() + GUARD
        while True:  # the freed socket comes back once the proxy has closed it on the module
            code, sock = socks_connect(proxy, "echo.test", holding_server.port)
            if code == 0:
                break
            sock.close()
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert sock.recv(2) == b"hi"
        held.append(sock)
        for sock in held:
            sock.close()
    assert "all %d sockets of the modem are in use" % limit in proxy.stderr


def test_socks_reply_codes(quectel_fake_modem, holding_server):
    with socks_server(quectel_fake_modem, "quectel") as proxy:
        with socket.socket() as closed_port:
            closed_port.bind(("127.0.0.1", 0))
            refused = socks_connect(proxy, "127.0.0.1", closed_port.getsockname()[1], atyp=1)[0]
        unknown = socks_connect(proxy, "nowhere.test", 80)[0]
        bind = socks_connect(proxy, "echo.test", holding_server.port, command=2)[0]
        with socket.create_connection((proxy.host, proxy.port), timeout=GUARD) as sock:
            sock.sendall(b"\x05\x01\x02")  # username/password only
            method = sock.recv(2)
        with socket.create_connection((proxy.host, proxy.port), timeout=GUARD) as sock:
            sock.sendall(b"\x05\x01\x00\x05\x01\x00\x09")  # address type 9
            sock.recv(2)
            bad_type = sock.recv(10)[1]
    assert (refused, unknown, bind, method, bad_type) == (5, 4, 7, b"\x05\xff", 8)
    assert open_ids(quectel_fake_modem) == []


def test_socks_to_an_ipv6_address_without_ipv6_sockets(quectel_fake_modem):
    """The driver's sockets are AF_INET only (an AF_INET socket refuses an IPv6 address, as in
    CPython): the proxy says "address type not supported" (8) and carries on."""
    with socket.socket(socket.AF_INET6) as server:
        server.bind(("::1", 0))
        server.listen(1)
        with socks_server(quectel_fake_modem, "quectel") as proxy:
            for _ in range(2):
                sock = socket.create_connection((proxy.host, proxy.port), timeout=GUARD)
                sock.sendall(b"\x05\x01\x00")
                sock.recv(2)
                sock.sendall(b"\x05\x01\x00\x04" + socket.inet_pton(socket.AF_INET6, "::1")
                             + struct.pack("!H", server.getsockname()[1]))
                assert sock.recv(10)[1] == 8
                sock.close()
            assert open_ids(quectel_fake_modem) == []


# --- the forwarder -------------------------------------------------------------------------------------------
def test_mosquitto_clients_through_the_forwarder(tmp_path):
    broker = Mosquitto(tmp_path)
    pub, sub = mosquitto_client("mosquitto_pub"), mosquitto_client("mosquitto_sub")
    try:
        with FakeModem("esp8285", **emulator_options("esp8285")) as fm, \
                Server("forward", fm.port, *modem_flags("esp8285"), "--listen", "0",
                       "--to", f"echo.test:{broker.port}") as forward:
            target = ["-h", forward.host, "-p", str(forward.port), "-t", "atsock/test"]
            published = subprocess.run([pub, *target, "-r", "-q", "1", "-m", "hello through the modem"],
                                       capture_output=True, timeout=GUARD)
            received = subprocess.run([sub, *target, "-C", "1", "-W", str(GUARD)], capture_output=True, timeout=GUARD)
    finally:
        broker.close()
    assert published.returncode == 0, published.stderr
    assert received.returncode == 0 and received.stdout == b"hello through the modem\n"


def test_forwarder_closes_clients_beyond_the_limit(holding_server):
    with FakeModem("esp8285", **emulator_options("esp8285")) as fm, \
            Server("forward", fm.port, *modem_flags("esp8285"), "--listen", "127.0.0.1:0",
                   "--to", f"127.0.0.1:{holding_server.port}") as forward:
        held = [socket.create_connection((forward.host, forward.port), timeout=GUARD) for _ in range(5)]
        assert [sock.recv(2) for sock in held] == [b"hi"] * 5
        with socket.create_connection((forward.host, forward.port), timeout=GUARD) as extra:
            assert extra.recv(2) == b""  # closed at once, not left waiting
        for sock in held:
            sock.close()


def test_listening_beyond_loopback_is_announced(quectel_fake_modem):
    with Server("socks", quectel_fake_modem.port, "--apn", "internet", "--listen", "0.0.0.0:0") as proxy:
        pass
    assert "not loopback" in proxy.stderr
