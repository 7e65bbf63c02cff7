"""The line at its fastest, end to end on both dialects: a module that boots at 115200 is found and
switched up (AT+IPR / AT+UART_CUR) with RTS/CTS, the host's port follows (read back from the pty's
termios by the emulator, which garbles whatever crosses at two different rates), a module left at
another rate is found, a refused rate or one the wiring cannot carry falls back, a reboot mid-session
comes back at the saved rate and is switched up again, and data mode's reader holds the module
back when it stalls.

The emulator is unpaced: at two different rates its bytes are garbage whether paced or not, so a
mebibyte that arrives byte-exact proves both ends switched; pacing would only add 11 s a direction.
"""
import asyncio
import errno
import hashlib
import json
import logging
import os

import pytest
import serial

import atsock
from atsock.wire.linerate import Line, standard
from atsock.core.readhold import HIGH
from atsock.wire.transport import READ_CHUNK, DescriptorTransport, LineControl
from fakemodem import FakeModem

from .at_client import AtPort
from .cli_support import run_atsock
from .conftest import emulator_options, modem_settings
from .test_data_mode import GUARD, read_exactly, received_digest
from .test_recovery import echo_works, wait_for
from .test_remote import serve

MIB = 2 ** 20
FAST = 921600
SWITCH = {"quectel": "AT+IPR=", "esp8285": "AT+UART_CUR="}


def emulator(dialect, **options):
    return FakeModem(dialect, escape_guard=GUARD, **emulator_options(dialect), **options)


def open_fast(dialect, fm, port=None, **options):
    settings = dict(modem_settings(dialect), escape_guard=GUARD)
    if dialect == "esp8285":
        settings["escape_settle"] = GUARD
    settings.update(options)
    return atsock.open_modem(port or fm.port, dialect=dialect, **settings)


def switches(fm, dialect):
    return [line for line in fm.received_commands if line.startswith(SWITCH[dialect])]


def mib_peer(conn):
    """Answers the SHA-256 of what it received, then the digest of a MiB of its own and the MiB,
    and closes (which ends data mode without an escape)."""
    digest = received_digest(conn)
    if digest is None:
        return
    payload = os.urandom(MIB)
    conn.sendall(digest + hashlib.sha256(payload).digest() + payload)
    conn.close()


def test_boots_at_115200_opens_at_921600_with_rts_cts_and_carries_a_mib_each_way(dialect, tcp_server):
    peer = tcp_server(mib_peer)
    upload = os.urandom(MIB)
    with emulator(dialect) as fm:
        assert fm.line()["module_baudrate"] == 115200
        with open_fast(dialect, fm, baudrate=FAST, flow_control="rtscts") as modem:
            assert (modem.baudrate, modem.flow_control) == (FAST, "rtscts")
            line = fm.line()
            assert (line["module_baudrate"], line["host_baudrate"], line["host_rtscts"]) == (FAST, FAST, True)
            assert modem.line.found_at == 115200 and modem.line.switch_seconds is not None
            sock = modem.socket()
            sock.settimeout(60)
            with sock.data_mode():
                sock.connect(("127.0.0.1", peer.port))
                line = fm.line()
                assert line["module_rts"] and line["module_cts"]  # RTS/CTS on in data mode
                sock.sendall(len(upload).to_bytes(8, "big") + upload)
                assert read_exactly(sock, 32) == hashlib.sha256(upload).digest()
                expected = read_exactly(sock, 32)
                assert hashlib.sha256(read_exactly(sock, MIB)).digest() == expected
                assert sock.read(1) == b""  # the peer closed: data mode ended by itself
            sock.close()
            line = fm.line()
            assert (line["lost_in"], line["lost_out"]) == (0, 0)
            assert not [command for command in fm.received_commands  # nothing saved unless asked
                        if command == "AT&W" or command.startswith("AT+UART_DEF=")]
        # closed: the module is left at the rate it was found at, flow control off
        line = fm.line()
        assert (line["module_baudrate"], line["module_rts"], line["module_cts"]) == (115200, False, False)


def leave_module_at(fm, dialect, rate):
    """An earlier program (plain pyserial) sets the module's rate and exits."""
    with AtPort(fm.port, b"\r" if dialect == "quectel" else b"\r\n") as at:
        at.sync()
        command = f"AT+IPR={rate}" if dialect == "quectel" else f"AT+UART_CUR={rate},8,1,0,0"
        assert at.command(command).endswith(b"OK\r\n")
    assert fm.line()["module_baudrate"] == rate


def test_a_module_left_at_921600_by_an_earlier_program_is_found(dialect, echo_server):
    no_reset = {"reset": False} if dialect == "esp8285" else {}  # (AT+RST would bring its saved rate back)
    with emulator(dialect) as fm:
        leave_module_at(fm, dialect, FAST)
        with open_fast(dialect, fm, baudrate=FAST, **no_reset) as modem:
            assert modem.line.found_at == FAST and modem.baudrate == FAST
            assert not switches(fm, dialect)[1:]  # found where it was: nothing to switch
            assert echo_works(modem, echo_server.port)


def test_a_program_that_asks_for_nothing_finds_the_module_at_another_rate(dialect, echo_server):
    with emulator(dialect) as fm:
        leave_module_at(fm, dialect, FAST)
        with open_fast(dialect, fm) as modem:  # baudrate left at its default, 115200
            assert modem.baudrate == 115200 and fm.line()["module_baudrate"] == 115200
            assert echo_works(modem, echo_server.port)


def test_a_rate_the_module_refuses_leaves_the_line_as_it_was(dialect, echo_server, caplog):
    rates = (9600, 19200, 38400, 57600, 115200, 230400, 460800)
    with emulator(dialect, rates=rates) as fm, caplog.at_level(logging.WARNING, "atsock.wire.linerate"):
        with open_fast(dialect, fm, baudrate=FAST) as modem:
            assert modem.baudrate == 115200 and fm.line()["module_baudrate"] == 115200
            assert any("refuses" in record.getMessage() and "stays at 115200" in record.getMessage()
                       for record in caplog.records)
            assert echo_works(modem, echo_server.port)


def test_a_rate_the_wiring_does_not_carry_is_undone(dialect, echo_server, caplog):
    """The module takes the rate, then what it sends comes garbled: the old rate is asked for
    blindly at the new one (the module still hears), and both ends are back where they were."""
    with emulator(dialect, wiring_limit=460800) as fm, caplog.at_level(logging.WARNING, "atsock.wire.linerate"):
        with open_fast(dialect, fm, baudrate=FAST) as modem:
            assert modem.baudrate == 115200 and fm.line()["module_baudrate"] == 115200
            assert any("does not answer at 921600" in record.getMessage() for record in caplog.records)
            assert echo_works(modem, echo_server.port)


def test_a_reboot_comes_back_at_the_saved_rate_and_is_switched_up_again(dialect, echo_server):
    with emulator(dialect) as fm, open_fast(dialect, fm, baudrate=FAST, flow_control="rtscts") as modem:
        before = len(switches(fm, dialect))
        fm.reboot()  # the module restarts at 115200; the host, at 921600, reads garbage
        assert wait_for(lambda: modem.recoveries >= 1 and modem.state == "online", 60)
        assert len(switches(fm, dialect)) == before + 1
        assert (modem.baudrate, modem.flow_control) == (FAST, "rtscts")
        assert fm.line()["module_baudrate"] == FAST
        assert echo_works(modem, echo_server.port)


def test_saved_settings_survive_a_reboot_and_stay_at_close(dialect, echo_server):
    save = {"quectel": "AT&W", "esp8285": f"AT+UART_DEF={FAST},8,1,0,3"}[dialect]
    with emulator(dialect) as fm:
        with open_fast(dialect, fm, baudrate=FAST, flow_control="rtscts", save_baudrate=True) as modem:
            assert save in fm.received_commands
            fm.reboot()
            assert fm.line()["module_baudrate"] == FAST  # it restarts at the saved rate
            assert wait_for(lambda: modem.recoveries >= 1 and modem.state == "online", 60)
            assert echo_works(modem, echo_server.port)
        assert fm.line()["module_baudrate"] == FAST  # kept, not undone


def test_flow_control_the_module_cannot_do_is_a_clear_error(dialect):
    with emulator(dialect, hardware_flow=False) as fm:
        with pytest.raises(atsock.ModemError) as caught:
            open_fast(dialect, fm, baudrate=FAST, flow_control="rtscts")
        assert caught.value.errno == errno.EOPNOTSUPP and caught.value.final
        assert caught.value.setting == "flow_control" and "refuses RTS/CTS" in str(caught.value)


def test_flow_control_the_port_cannot_do_is_a_clear_error_and_undone(dialect, monkeypatch):
    async def refuse(self, rtscts):
        if rtscts:
            raise OSError(errno.EOPNOTSUPP, "no RTS/CTS lines on this adapter")

    monkeypatch.setattr(DescriptorTransport, "set_flow_control", refuse)
    with emulator(dialect) as fm:
        with pytest.raises(atsock.ModemError) as caught:
            open_fast(dialect, fm, flow_control="rtscts")
        assert caught.value.errno == errno.EOPNOTSUPP and "the port cannot do RTS/CTS" in str(caught.value)
        assert module_flow(fm, dialect) == 0  # the module told to stop again


def module_flow(fm, dialect):
    """The module's flow control setting (AT+IFC's pair, or AT+UART_CUR's <flow>), read inside it."""
    if dialect == "quectel":
        return fm.call(lambda: fm.module.line.ifc[0] + fm.module.line.ifc[1])
    return fm.call(lambda: fm.module.settings.uart_cur[4])


@pytest.mark.parametrize("flow_control", ["rtscts", None])
def test_a_stalled_reader_in_data_mode(dialect, tcp_server, flow_control):
    """With RTS/CTS, a reader that stops holds the module back: the port is not read once the
    socket holds HIGH bytes, the module's output waits, nothing is lost. Without, the socket
    buffers whatever comes (and a host too slow to read the port at all would lose bytes)."""
    payload = os.urandom(4 * MIB)

    def source(conn):
        conn.sendall(payload)
        conn.recv(1)

    peer = tcp_server(source)
    with emulator(dialect) as fm, open_fast(dialect, fm, baudrate=FAST, flow_control=flow_control) as modem:
        sock = modem.socket()
        sock.settimeout(60)
        with sock.data_mode():
            sock.connect(("127.0.0.1", peer.port))
            unread = sock._conn.inbox
            if flow_control:
                assert wait_for(lambda: unread.buffered >= HIGH)
                # the reader stalls on: the module holds its output back, the host takes no more
                assert wait_for(lambda: fm.call(lambda: fm.uart.backlog) > 0)
                assert unread.buffered <= HIGH + READ_CHUNK  # (one read of the port more at most)
            else:
                assert wait_for(lambda: unread.buffered > 2 * HIGH)
            got = read_exactly(sock, len(payload))
            assert hashlib.sha256(got).digest() == hashlib.sha256(payload).digest()
            sock.sendall(b"!")
        sock.close()
        assert fm.line()["lost_out"] == 0


def test_atsock_info_finds_the_module_at_its_rate_and_shows_the_line(dialect):
    with emulator(dialect) as fm:
        leave_module_at(fm, dialect, FAST)
        done = run_atsock("info", "--json", fm.port)
        shown = run_atsock("info", fm.port)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["line"] == {"baudrate": FAST, "module_rtscts": False}
    assert f"{FAST} baud, no flow control" in shown.stdout


def test_the_command_line_opens_the_modem_at_the_rate_and_flow_control_given(http_server):
    with emulator("quectel") as fm:
        done = run_atsock("get", fm.port, "--apn", "internet", "--baudrate", str(FAST), "--flow", "rtscts",
                          f"http://127.0.0.1:{http_server.server_address[1]}/")
        commands = fm.received_commands
    assert done.returncode == 0, done.stderr
    assert f"AT+IPR={FAST}" in commands and "AT+IFC=2,2" in commands


def test_a_modules_own_usb_port_is_not_switched(monkeypatch, echo_server):
    """A Quectel USB interface has no line rate: AT+IPR there would only move the module's UART."""
    monkeypatch.setattr(DescriptorTransport, "usb_vendor", lambda self: 0x2C7C)
    with emulator("quectel", usb=True) as fm, open_fast("quectel", fm, baudrate=FAST) as modem:
        assert not switches(fm, "quectel")
        assert echo_works(modem, echo_server.port)


def test_a_raw_tcp_serial_server_is_never_switched_and_refuses_rts_cts(dialect, echo_server):
    """A raw socket:// server carries bytes only: its line is its own setting. The module is not
    moved (a rate its server does not follow would strand it), and RTS/CTS is a clear error with
    the module told to stop again."""
    with emulator(dialect) as fm, serve(fm, telnet=False) as raw:
        with open_fast(dialect, fm, baudrate=FAST, port=raw.url) as modem:
            assert not switches(fm, dialect) and fm.line()["module_baudrate"] == 115200
            assert echo_works(modem, echo_server.port)
        with pytest.raises(atsock.ModemError) as caught:
            open_fast(dialect, fm, port=raw.url, flow_control="rtscts")
        assert caught.value.errno == errno.EOPNOTSUPP and caught.value.setting == "flow_control"
        assert "the port cannot do RTS/CTS" in str(caught.value) and module_flow(fm, dialect) == 0


def test_the_search_tries_the_ports_rate_then_the_one_asked_for_then_the_usual_ones():
    line = Line(None, None, FAST)
    assert line.candidates() == [FAST, 115200, 460800, 230400, 57600, 9600]
    line = Line(None, None, FAST, current=57600)  # an open pyserial port keeps its own rate
    line.found_at = 230400
    assert line.candidates()[:4] == [57600, FAST, 230400, 115200]
    assert sorted(line.candidates()) == sorted(set(line.candidates()))


def test_a_rate_change_drops_what_the_port_received_at_the_old_rate():
    """A late answer to a probe at the old rate, read after the switch, would pass for one at the new."""
    master, slave = os.openpty()
    port = serial.Serial(os.ttyname(slave), 115200, timeout=0)
    try:
        os.write(master, b"\r\nOK\r\n")
        assert wait_for(lambda: port.in_waiting == 6)
        control = LineControl()
        control.get_extra_info = lambda name: port
        asyncio.run(control.set_baudrate(FAST))
        assert port.baudrate == FAST and port.in_waiting == 0 and port.read(16) == b""
    finally:
        port.close()
        os.close(master)
        os.close(slave)


def test_a_uarts_divided_rate_is_read_as_the_standard_one():
    assert (standard(115273), standard(921658), standard(74880), standard(12345)) == (115200, 921600, 74880, 12345)


@pytest.mark.parametrize("options", [dict(baudrate=0), dict(baudrate=True), dict(baudrate="921600"),
                                     dict(flow_control="xonxoff"), dict(flow_control=True),
                                     dict(save_baudrate="yes")])
def test_line_arguments_are_refused_before_the_port_is_touched(options):
    with pytest.raises(ValueError):
        atsock.open_modem("/nonexistent/tty", dialect="quectel", apn="internet", **options)


def test_a_serial_server_switches_its_line_too_rfc2217(echo_server):
    """Through ser2net the far port's rate and RTS/CTS are set with RFC 2217, from the same search
    and switch as a local port's (the emulator reads both back from its pty)."""
    with emulator("quectel") as fm, serve(fm) as server:
        with open_fast("quectel", fm, baudrate=FAST, flow_control="rtscts", port=server.url) as modem:
            line = fm.line()
            assert (modem.baudrate, line["module_baudrate"], line["host_baudrate"]) == (FAST, FAST, FAST)
            assert modem.flow_control == "rtscts" and line["host_rtscts"]
            assert echo_works(modem, echo_server.port)
