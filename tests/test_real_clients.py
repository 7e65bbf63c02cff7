"""Unmodified MicroPython clients from PyPI over the emulated modem, against real servers."""
import pytest

from atsock import micropython
from fakemodem import FakeModem

import atsock

from .conftest import emulator_options, modem_settings
from .peers import Mosquitto, micropython_module


@pytest.fixture(scope="module")
def broker(tmp_path_factory):
    server = Mosquitto(tmp_path_factory.mktemp("mosquitto"))
    yield server
    server.close()


@pytest.fixture
def mqtt_modem(dialect):
    options = emulator_options(dialect)
    options["hosts"] = dict(options["hosts"], **{"mqtt.test": "127.0.0.1"})
    with FakeModem(dialect, **options) as fm:
        with atsock.open_modem(fm.port, dialect=dialect, **modem_settings(dialect)) as modem:
            yield modem


def test_umqtt_simple_subscribes_publishes_and_receives_its_own_message(mqtt_modem, broker):
    simple = micropython.load(micropython_module("micropython-umqtt.simple"), "umqtt_simple")
    received = []
    client = simple.MQTTClient("atsock-test", "mqtt.test", port=broker.port, keepalive=30)
    client.set_callback(lambda topic, message: received.append((topic, message)))
    client.connect()
    client.sock.settimeout(10)  # a broken path fails the test instead of hanging it
    client.subscribe(b"atsock/test")
    client.publish(b"atsock/test", b"hello through the modem")
    client.wait_msg()
    assert received == [(b"atsock/test", b"hello through the modem")]
    client.publish(b"atsock/test", b"x" * 3000, qos=1)  # qos 1: PUBACK read back through the modem
    while len(received) < 2:
        client.check_msg()  # the non-blocking path: read(1) returns None until something waits
    assert received[1] == (b"atsock/test", b"x" * 3000)
    client.ping()
    client.disconnect()


def test_urequest_fetches_a_file_from_a_local_http_server(mqtt_modem, http_server):
    urequest = micropython.load(micropython_module("micropython-urllib.urequest"), "urequest")
    port = http_server.server_address[1]
    response = urequest.urlopen(f"http://www.test:{port}/blob.bin")
    body = response.read()
    response.close()
    assert body == (http_server.root / "blob.bin").read_bytes()
    response = urequest.urlopen(f"http://127.0.0.1:{port}/index.html")
    assert b"hello from the test server" in response.read()
    response.close()
