"""Recovery without user action: sockets that cannot survive fail with a meaningful errno, the
modem comes back by itself, and new sockets work again."""
import errno
import threading
import time

import pytest

import atsock
from fakemodem import FakeModem

from .conftest import emulator_options, modem_settings


def wait_for(predicate, seconds=20.0):
    deadline = time.monotonic() + seconds
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def in_background(call):
    """Run ``call`` on a thread; returns the thread and a dict that gets its ``"error"`` (an OSError)."""
    outcome = {}

    def run():
        try:
            outcome["value"] = call()
        except OSError as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=run)
    thread.start()
    return thread, outcome


class StateLog:
    def __init__(self, modem):
        self.changes = []
        self._lock = threading.Lock()
        modem.on_state_change(self._record)

    def _record(self, old, new):
        with self._lock:
            self.changes.append((old, new))

    def states(self):
        with self._lock:
            return [new for _, new in self.changes]


def echo_works(modem, port):
    sock = modem.socket()
    sock.settimeout(10)
    sock.connect(("127.0.0.1", port))
    sock.write(b"alive")
    ok = sock.read(5) == b"alive"
    sock.close()
    return ok


def connected(modem, port):
    sock = modem.socket()
    sock.settimeout(10)
    sock.connect(("127.0.0.1", port))
    return sock


def expect_error(sock, code):
    """The socket fails with ``code``. A send the module refuses before its notice arrives fails
    first with EPIPE (a module's lost socket looks like a closed one); the reading side then
    reports the cause."""
    with pytest.raises(OSError) as info:
        for _ in range(200):  # until the failure reaches the socket
            sock.write(b"x")
            sock.read(1)
            time.sleep(0.05)
    if info.value.args[0] == errno.EPIPE:
        with pytest.raises(OSError) as info:
            for _ in range(200):
                sock.read(1)
                time.sleep(0.05)
    assert info.value.args[0] == code, info.value


def test_an_unsolicited_reboot_fails_sockets_and_the_modem_comes_back(modem, fake_modem, echo_server):
    log = StateLog(modem)
    sock = connected(modem, echo_server.port)
    fake_modem.reboot()
    expect_error(sock, errno.ECONNRESET)
    assert wait_for(lambda: modem.state == "online" and modem.recoveries == 1)
    assert log.states()[0] == "recovering" and log.states()[-1] == "online"
    assert echo_works(modem, echo_server.port)
    sock.close()


def test_a_reboot_notice_fails_the_send_in_flight_at_once(fake_modem, dialect, echo_server):
    """A send the old module will never answer fails with the reboot's ECONNRESET, not with the
    send's own time-out (which would say nothing about what happened)."""
    settings = dict(modem_settings(dialect), timeouts={"send": 30})
    with atsock.open_modem(fake_modem.port, dialect=dialect, **settings) as modem:
        sock = connected(modem, echo_server.port)
        fake_modem.hang(3.0)  # the module reads the send and answers nothing
        sender, outcome = in_background(lambda: sock.send(b"lost in the reboot"))
        time.sleep(0.5)
        fake_modem.inject(b"\r\nRDY\r\n" if dialect == "quectel" else b"\r\nready\r\n")
        sender.join(30)
        assert outcome["error"].args[0] == errno.ECONNRESET, outcome["error"]
        assert wait_for(lambda: modem.state == "online")
        assert echo_works(modem, echo_server.port)


def test_a_dropped_data_context_or_wifi_fails_sockets_and_comes_back(modem, fake_modem, dialect, echo_server):
    sock = connected(modem, echo_server.port)
    fake_modem.drop_network()
    expect_error(sock, errno.ENETDOWN)
    assert wait_for(lambda: modem.state == "online" and modem.recoveries == 1)
    assert echo_works(modem, echo_server.port)
    commands = fake_modem.received_commands
    if dialect == "quectel":  # the notes: AT+QIDEACT before activating the context again
        assert commands.index("AT+QIDEACT=1") < len(commands) - 1 - commands[::-1].index("AT+QIACT=1")
    else:
        assert sum(c.startswith("AT+CWJAP") for c in commands) >= 2  # joined again
    sock.close()


def test_registration_lost_and_regained_keeps_the_sockets(quectel_modem, quectel_fake_modem, echo_server):
    modem, fm = quectel_modem, quectel_fake_modem
    log = StateLog(modem)
    sock = connected(modem, echo_server.port)
    fm.lose_registration(1.0)
    assert wait_for(lambda: "recovering" in log.states(), 5)
    assert wait_for(lambda: modem.state == "online" and modem.recoveries == 1)
    assert "registering" in log.states()
    sock.write(b"still connected")  # a short loss of the network need not end a TCP connection
    assert sock.read(15) == b"still connected"
    sock.close()


def quick_command(dialect):
    """Something that sends a command with a 2-second budget (DNS on ESP-AT allows 20 s)."""
    if dialect == "quectel":
        atsock.getaddrinfo("echo.test", 80)
    else:
        server = atsock.socket()
        server.bind(("", 0))
        server.listen()


def test_a_short_stall_is_resynchronised_without_a_recovery(modem, fake_modem, dialect, echo_server):
    sock = connected(modem, echo_server.port)
    fake_modem.hang(3.0)  # shorter than a command's timeout plus the resync probes
    with pytest.raises(OSError) as info:
        quick_command(dialect)
    assert info.value.args[0] == errno.ETIMEDOUT
    time.sleep(2.5)
    assert modem.state == "online" and modem.recoveries == 0
    sock.write(b"survived")  # nothing was lost, so the connection stays
    assert sock.read(8) == b"survived"
    sock.close()


def test_an_unresponsive_modem_is_brought_up_again(modem, fake_modem, dialect, echo_server):
    log = StateLog(modem)
    fake_modem.hang(8.0)  # outlasts the resync probes: the modem counts as gone
    with pytest.raises(OSError) as info:
        quick_command(dialect)
    assert info.value.args[0] == errno.ETIMEDOUT
    assert wait_for(lambda: modem.state == "online" and modem.recoveries == 1, 40)
    assert "recovering" in log.states()
    assert echo_works(modem, echo_server.port)


def test_a_modem_that_never_answers_again_ends_failed_after_capped_attempts(fake_modem, dialect):
    settings = dict(modem_settings(dialect), sync_timeout=1.0)
    modem = atsock.open_modem(fake_modem.port, dialect=dialect, max_recovery_attempts=2, **settings)
    try:
        fake_modem.hang(600)
        with pytest.raises(OSError):
            quick_command(dialect)
        assert wait_for(lambda: modem.state == "failed", 60)
        with pytest.raises(OSError) as info:
            atsock.socket().connect(("127.0.0.1", 1))
        assert info.value.args[0] == errno.ENETDOWN
    finally:
        modem.close()
    assert modem.state == "closed"


def test_the_port_vanishing_fails_callers_promptly_and_the_modem_is_reopened(dialect, tmp_path, echo_server):
    link = str(tmp_path / "ttyUSB0")
    with FakeModem(dialect, link_path=link, **emulator_options(dialect)) as fm:
        with atsock.open_modem(link, dialect=dialect, **modem_settings(dialect)) as modem:
            sock = connected(modem, echo_server.port)
            fm.unplug()
            started = time.monotonic()
            expect_error(sock, errno.EIO)
            assert time.monotonic() - started < 2
            assert wait_for(lambda: modem.state == "recovering", 5)
            time.sleep(1.0)
            fm.replug()
            assert wait_for(lambda: modem.state == "online" and modem.recoveries == 1, 30)
            assert echo_works(modem, echo_server.port)
            sock.close()
