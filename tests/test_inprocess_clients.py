"""Unmodified client libraries in the same process as atsock, after ``atsock.install(standard_names=True)``:
``http.client``, ``urllib.request``, ``requests`` (and https with a test CA), ``httpx``, ``paho-mqtt``,
``aiohttp`` and ``websockets`` under ``asyncio.run``, on both dialects, each to a real peer on
127.0.0.1 through the emulator.

Each runs in a fresh interpreter (``tests/inprocess_client.py``: open the modem, install, import
the library), which is how a program uses ``install``. Each proves its bytes crossed the module:
the emulator read the command that opened the connection to the peer's port, and its serial line
carried at least the bytes the client moved. The emulator's line is unthrottled, so a mebibyte
takes about a second.
"""
import hashlib
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from websockets.sync.server import serve as websocket_server

from .conftest import modem_settings
from .peers import Mosquitto

CHILD = Path(__file__).resolve().parent / "inprocess_client.py"


def run_client(fake_modem, dialect, client, *args):
    """What the client printed; it wrote nothing else, on stdout or stderr."""
    no_proxy = {name: value for name, value in os.environ.items() if "proxy" not in name.lower()}  # the peers are here
    done = subprocess.run([sys.executable, str(CHILD), client, fake_modem.port, dialect,
                           json.dumps(modem_settings(dialect)), *map(str, args)],
                          capture_output=True, text=True, timeout=180, env=no_proxy)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    return json.loads(done.stdout)


def crossed_the_module(fake_modem, peer_port, down=0, up=0):
    """The module opened a connection to ``peer_port``, and its line carried at least ``down``
    bytes to the host and ``up`` from it."""
    opens = [line for line in fake_modem.received_commands if line.startswith(("AT+QIOPEN", "AT+CIPSTART"))]
    assert any(f'",{peer_port}' in line for line in opens), opens
    assert fake_modem.uart.bytes_out >= down and fake_modem.uart.bytes_in >= up
    return True


def mib_url(server, scheme="http"):
    return f"{scheme}://www.test:{server.server_address[1]}/mib.bin"


def digest(data):
    return {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}


@pytest.mark.parametrize("client", ["http.client", "urllib.request", "requests", "httpx"])
def test_a_mebibyte_over_http(fake_modem, dialect, http_server, mib, client):
    got = run_client(fake_modem, dialect, client, mib_url(http_server))
    got.pop("status", None)
    assert got == digest(mib)
    assert crossed_the_module(fake_modem, http_server.server_address[1], down=len(mib))


@pytest.mark.parametrize("client", ["requests", "httpx", "aiohttp"])
def test_a_mebibyte_over_https_verified_against_a_test_ca(fake_modem, dialect, https_server, mib, ca_file, client):
    assert run_client(fake_modem, dialect, client, mib_url(https_server, "https"), ca_file) == digest(mib)
    assert crossed_the_module(fake_modem, https_server.server_address[1], down=len(mib))


@pytest.fixture(scope="module")
def broker(tmp_path_factory):
    server = Mosquitto(tmp_path_factory.mktemp("mosquitto"))
    yield server
    server.close()


def test_paho_mqtt_publishes_and_receives_through_the_modem(fake_modem, dialect, broker):
    got = run_client(fake_modem, dialect, "paho-mqtt", "www.test", broker.port)
    assert got["received"] is True
    assert crossed_the_module(fake_modem, broker.port, down=got["size"], up=got["size"])


def test_aiohttp_under_asyncio_run(fake_modem, dialect, http_server, mib):
    assert run_client(fake_modem, dialect, "aiohttp", mib_url(http_server)) == digest(mib)
    assert crossed_the_module(fake_modem, http_server.server_address[1], down=len(mib))


@pytest.fixture
def websocket_echo():
    def echo(connection):
        for message in connection:
            connection.send(message)

    server = websocket_server(echo, "127.0.0.1", 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()


def test_websockets_under_asyncio_run(fake_modem, dialect, websocket_echo):
    port = websocket_echo.socket.getsockname()[1]
    got = run_client(fake_modem, dialect, "websockets", f"ws://www.test:{port}/")
    assert got["echoed"] is True
    assert crossed_the_module(fake_modem, port, down=got["size"], up=got["size"])
