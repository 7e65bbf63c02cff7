"""ESP-AT runs a TCP connect inside AT+CIPSTART and takes no other command until it ends; nothing
stops it half-way. A connect its caller gave up on still holds the module: atsock does not wait for
it where the caller does not want to (a non-blocking socket's close), and the relay waits for the
module's verdict instead of timing out the clients queued behind it."""
import errno
import threading

import pytest

import atsock
from fakemodem import FakeModem

from .cli_support import GUARD
from .conftest import WIFI, emulator_options
from .test_cli_proxy import holding_server, socks_connect, socks_server  # noqa: F401 (a fixture)
from .test_recovery import wait_for

BLACKHOLE = "127.0.0.66"  # the emulator's address that never answers (emulator_options)


@pytest.fixture
def esp_fake_modem():
    with FakeModem("esp8285", **emulator_options("esp8285")) as fm:
        yield fm


def test_closing_a_pending_non_blocking_connect_does_not_wait_for_the_module(esp_fake_modem, echo_server):
    with atsock.open_modem(esp_fake_modem.port, dialect="esp8285", **WIFI) as modem:
        assert modem.connect_holds_module
        sock = modem.socket()
        sock.setblocking(False)
        with pytest.raises(OSError) as info:
            sock.connect((BLACKHOLE, 80))
        assert info.value.args[0] == errno.EINPROGRESS
        sock.close()
        assert sock.fileno() == -1
        # the module is still connecting (2 s on this emulator): close() returned before its verdict
        assert not any(c.startswith("AT+CIPCLOSE") for c in esp_fake_modem.received_commands)
        with pytest.raises(OSError) as info:
            sock.send(b"x")
        assert info.value.args[0] == errno.EBADF
        assert wait_for(lambda: modem.socket_ids() == [], GUARD)  # freed once the module answered
        follower = modem.socket()
        follower.settimeout(GUARD)
        follower.connect(("127.0.0.1", echo_server.port))
        follower.sendall(b"next")
        assert follower.read(4) == b"next"
        follower.close()


def test_a_socks_client_to_an_unreachable_host_does_not_time_out_the_next_one(esp_fake_modem, holding_server):
    """The connect time-out (1 s) is shorter than the module's connect to nowhere (2 s here): the
    second client's connect, queued behind, goes out once the module is free, and is relayed."""
    with socks_server(esp_fake_modem, "esp8285", "--connect-timeout", "1") as proxy:
        outcome = {}

        def connect_to_nowhere():
            outcome["code"], client = socks_connect(proxy, BLACKHOLE, 80, atyp=1)
            client.close()

        unreachable = threading.Thread(target=connect_to_nowhere)
        unreachable.start()
        assert wait_for(lambda: any(BLACKHOLE in c for c in esp_fake_modem.received_commands), GUARD)
        code, sock = socks_connect(proxy, "127.0.0.1", holding_server.port, atyp=1)
        assert code == 0 and sock.recv(2) == b"hi"
        sock.close()
        unreachable.join(GUARD)
        assert outcome["code"] == 5  # the module's own verdict: its connect failed
