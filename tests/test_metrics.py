"""Prometheus metrics of modems (atsock.metrics), scraped and read back with prometheus_client's own
text parser: in process, over HTTP from ``atsock forward --metrics``, and while the line is busy."""
import os
import socket as std_socket
import threading
import urllib.request

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

import atsock
from atsock.metrics import ModemCollector
from fakemodem import FakeModem

from .cli_support import GUARD, Server, run_atsock
from .conftest import emulator_options, modem_settings
from .test_cli_get import modem_flags
from .test_recovery import wait_for

IMEI = "861234567890123"
IDENTITY = {"quectel": {"imei": IMEI, "csq": (12, 99)}, "esp8285": {"rssi": -71}}
RSSI_DBM = {"quectel": -113 + 2 * 12, "esp8285": -71}


@pytest.fixture
def emulator(dialect):
    with FakeModem(dialect, identity=IDENTITY[dialect], escape_guard=0.05, **emulator_options(dialect)) as fm:
        yield fm


@pytest.fixture
def modem(emulator, dialect):
    settings = dict(modem_settings(dialect), escape_guard=0.05)
    if dialect == "esp8285":
        settings["escape_settle"] = 0.05
    with atsock.open_modem(emulator.port, dialect=dialect, baudrate=921600, **settings) as m:
        yield m


def scrape(text: str) -> dict:
    """{(name, labels without port/imei as a sorted tuple): value}, plus the port/imei labels seen."""
    samples, identities = {}, set()
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = dict(sample.labels)
            identities.add((labels.pop("port"), labels.pop("imei")))
            samples[(sample.name, tuple(sorted(labels.items())))] = sample.value
    return {"samples": samples, "identities": identities}


def collected(registry) -> dict:
    return scrape(generate_latest(registry).decode())


def value(scraped, name, **labels):
    return scraped["samples"][(name, tuple(sorted(labels.items())))]


@pytest.fixture
def registry(modem):
    registry = CollectorRegistry()
    collector = ModemCollector(modem, refresh=3600)  # the first reading only: nothing refreshes during a test
    registry.register(collector)
    yield registry
    collector.close()


def test_every_metric_with_its_labels(modem, registry, dialect, emulator, echo_server):
    sock = modem.socket()
    sock.settimeout(10)
    sock.connect(("127.0.0.1", echo_server.port))
    before = collected(registry)
    sock.write(b"x" * 1000)
    assert sock.read(1000) == b"x" * 1000
    for _ in range(3):
        modem.at("AT")
    after = collected(registry)
    assert after["identities"] == {(emulator.port, IMEI if dialect == "quectel" else "")}
    assert value(after, "atsock_registered") == 1
    assert value(after, "atsock_signal_rssi_dbm") == RSSI_DBM[dialect]
    assert value(after, "atsock_sockets_open") == 1
    for direction in ("sent", "received"):  # the echo's kilobyte each way, and the commands around it
        grown = value(after, "atsock_bytes_total", direction=direction) - value(before, "atsock_bytes_total",
                                                                               direction=direction)
        assert grown >= 1000
    assert value(after, "atsock_recoveries_total") == 0
    exchanges = value(after, "atsock_at_command_seconds_count") - value(before, "atsock_at_command_seconds_count")
    assert exchanges >= 4  # the send's, the read's, three ATs
    assert value(after, "atsock_at_command_seconds_bucket", le="+Inf") == value(after, "atsock_at_command_seconds_count")
    assert value(after, "atsock_at_command_seconds_sum") > 0
    states = {labels[0][1]: v for (name, labels), v in after["samples"].items() if name == "atsock_state"}
    assert states["online"] == 1 and sum(states.values()) == 1 and "recovering" in states
    sock.close()
    assert value(collected(registry), "atsock_sockets_open") == 0


def test_a_scrape_sends_no_at_command_even_during_data_mode(modem, registry, dialect, emulator, echo_server):
    commands = len(emulator.received_commands)
    for _ in range(20):
        collected(registry)
    assert len(emulator.received_commands) == commands
    sock = modem.socket()
    sock.settimeout(20)
    block = sock.data_mode()
    if dialect == "quectel":
        sock.connect(("127.0.0.1", echo_server.port))
        block.__enter__()
    else:
        block.__enter__()
        sock.connect(("127.0.0.1", echo_server.port))
    payload, received, scrapes = os.urandom(256 * 1024), [b""], []

    def echo():
        received[0] = sock.read(len(payload))

    reader = threading.Thread(target=echo)
    reader.start()
    sock.sendall(payload)
    while reader.is_alive():  # the line is held by data mode: scrapes answer all the same
        scrapes.append(collected(registry))
        reader.join(0.01)
    block.__exit__(None, None, None)
    sock.close()
    assert received[0] == payload
    assert scrapes and all(value(s, "atsock_state", state="online") == 1 for s in scrapes)
    traffic = [value(s, "atsock_bytes_total", direction="received") for s in scrapes]
    assert traffic == sorted(traffic)


def test_recoveries_are_counted(modem, registry, emulator):
    emulator.reboot()
    assert wait_for(lambda: modem.recoveries == 1 and modem.state == "online")
    scraped = collected(registry)
    assert value(scraped, "atsock_recoveries_total") == 1
    assert value(scraped, "atsock_state", state="online") == 1


def test_one_collector_for_several_modems():
    with FakeModem("quectel", identity={"imei": "111111111111111"}) as one, \
            FakeModem("quectel", identity={"imei": "222222222222222"}) as two, \
            atsock.open_modem(one.port, apn="internet") as first, atsock.open_modem(two.port, apn="internet") as second:
        registry = CollectorRegistry()
        registry.register(ModemCollector(first, second, refresh=3600))
        scraped = collected(registry)
        with pytest.raises(ValueError):  # a second collector of the same names is refused by the registry
            registry.register(ModemCollector(first, refresh=3600))
    assert scraped["identities"] == {(one.port, "111111111111111"), (two.port, "222222222222222")}


def test_atsock_forward_serves_metrics_over_http(dialect, echo_server):
    with FakeModem(dialect, identity=IDENTITY[dialect], **emulator_options(dialect)) as fm, \
            Server("forward", fm.port, "--dialect", dialect, *modem_flags(dialect), "--listen", "127.0.0.1:0",
                   "--to", f"127.0.0.1:{echo_server.port}", "--metrics", "127.0.0.1:0") as forward:
        url = forward.first_line.rpartition("metrics at ")[2].strip()
        assert url.startswith("http://127.0.0.1:") and url.endswith("/metrics")
        with urllib.request.urlopen(url, timeout=GUARD) as response:
            assert response.headers["Content-Type"].startswith("text/plain")
            scraped = scrape(response.read().decode())
    assert value(scraped, "atsock_registered") == 1
    assert value(scraped, "atsock_signal_rssi_dbm") == RSSI_DBM[dialect]
    assert scraped["identities"] == {(fm.port, IMEI if dialect == "quectel" else "")}


def test_a_metrics_address_in_use_is_named_with_its_option(quectel_fake_modem, echo_server):
    with std_socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        result = run_atsock("forward", quectel_fake_modem.port, "--dialect", "quectel", "--apn", "internet",
                            "--listen", "127.0.0.1:0", "--to", f"127.0.0.1:{echo_server.port}",
                            "--metrics", f"127.0.0.1:{port}")
    assert result.returncode == 1
    assert f"127.0.0.1:{port} is already in use by another program: choose another address with --metrics" \
        in result.stderr
