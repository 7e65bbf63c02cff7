"""The emulator's line as a module's UART has it, without atsock: bits read at another rate are
garbage (not silence), the host's rate and RTS/CTS come from the pty's termios, a new rate applies
after the OK, and flow control decides whether a side that cannot take more holds the other back
or loses bytes (the UART on a logical clock, as tests/test_uart_pacing.py drives it)."""
import os
import socket

import pytest
import serial
from hypothesis import given, strategies as st

from fakemodem import FakeModem, hostline
from fakemodem.hostline import HostLine
from fakemodem.uart import Uart
from fakemodem.wire import received_as

from .at_client import AtPort
from .test_recovery import wait_for
from .test_uart_pacing import LogicalLoop

RDY = b"\r\nRDY\r\n\r\n+CFUN: 1\r\n\r\n+CPIN: READY\r\n"


# --- bits read at another rate ------------------------------------------------------------------------
@given(st.binary(min_size=1, max_size=200), st.sampled_from([115200, 921600, 9600]),
       st.floats(min_value=0.985, max_value=1.015))
def test_rates_a_uart_tolerates_read_the_same_bytes(data, rate, skew):
    assert received_as(data, rate, rate * skew) == data


@pytest.mark.parametrize("sent_at,read_at", [(115200, 921600), (921600, 115200), (115200, 9600), (9600, 115200),
                                             (115200, 57600), (115200, 38400)])
def test_other_rates_read_garbage_not_silence(sent_at, read_at):
    heard = received_as(RDY, sent_at, read_at)
    assert heard and heard != RDY and b"RDY" not in heard


def test_a_much_slower_sender_reads_as_about_one_byte_per_falling_edge():
    heard = received_as(RDY, 115200, 921600)
    assert len(heard) > len(RDY) and set(heard) <= {0x00, 0x80, 0xC0, 0xE0, 0xF0, 0xF8, 0xFC, 0xFE}


# --- the host's termios, through the pty -----------------------------------------------------------------
def test_the_host_rate_and_rts_cts_are_read_from_the_ptys_termios():
    with FakeModem("quectel") as fm:
        assert fm.line()["host_baudrate"] == 115200  # the pty starts at the module's boot rate
        with serial.Serial(fm.port, 250000, rtscts=True):  # a rate without a B constant (BOTHER)
            line = fm.line()
            assert (line["host_baudrate"], line["host_rtscts"]) == (250000, True)
        assert fm.line()["host_baudrate"] == 250000  # kept after the host closed, as a UART's


def test_a_host_at_another_rate_reads_garbage_and_the_module_hears_garbage():
    with FakeModem("quectel") as fm:
        with AtPort(fm.port, baudrate=9600) as at:
            at.write(b"AT\r")
            heard = at.read_quiet(0.5)
            assert b"OK" not in heard
        assert wait_for(lambda: fm.line()["garbled"] > 0)  # (once the module has read what the host sent)
        assert "AT" not in fm.received_commands
        with AtPort(fm.port) as at:
            at.sync()  # the same module at its own rate


def test_hostline_preset_writes_any_rate():
    master, slave = os.openpty()
    try:
        for rate in (9600, 12345, 921600, 3000000):
            hostline.preset(master, rate)
            assert hostline.read(master).baudrate == rate
    finally:
        os.close(master)
        os.close(slave)


# --- flow control and losses (the UART on a logical clock) ------------------------------------------------
@pytest.fixture
def wire():
    module_end, host_end = socket.socketpair()
    module_end.setblocking(False)
    module_end.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    host_end.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    yield module_end, host_end
    module_end.close()
    host_end.close()


def uart_on(loop, fd, host_rtscts, flow, received=None):
    uart = Uart(loop, fd, 115200, (received if received is not None else bytearray()).extend, paced=True,
                host_line=lambda: HostLine(115200, host_rtscts))
    uart.flow = lambda: flow
    return uart


@pytest.mark.parametrize("host_rtscts,flow,held", [(True, (True, True), True), (False, (True, True), False),
                                                   (True, (False, False), False)])
def test_a_host_that_does_not_read_holds_the_module_only_with_flow_control_at_both_ends(wire, host_rtscts, flow,
                                                                                      held):
    module_end, host_end = wire
    loop = LogicalLoop()
    uart = uart_on(loop, module_end.fileno(), host_rtscts, flow)
    uart.write(os.urandom(115200 // 10))  # a second of line; the host reads nothing
    loop.run_until(2.0)
    if held:
        assert uart.lost_out == 0 and uart.backlog > 0 and module_end.fileno() in loop.writers
    else:
        assert uart.lost_out > 0 and uart.backlog == 0


@pytest.mark.parametrize("host_rtscts,flow,held", [(True, (True, True), True), (True, (False, True), False),
                                                   (False, (True, True), False)])
def test_a_module_that_takes_nothing_holds_the_host_only_with_flow_control_at_both_ends(wire, host_rtscts, flow,
                                                                                      held):
    module_end, host_end = wire
    loop = LogicalLoop()
    received = bytearray()
    uart = uart_on(loop, module_end.fileno(), host_rtscts, flow, received)
    room = [False]
    uart.room = lambda: room[0]  # its link's buffer is full: the firmware takes nothing (RTS down)
    payload = os.urandom(2000)
    host_end.sendall(payload)
    loop.readers[module_end.fileno()]()
    loop.run_until(1.0)
    if held:
        assert uart.lost_in == 0 and not received and module_end.fileno() not in loop.readers  # the pty backs up
        room[0] = True
        loop.run_until(2.0)
        assert bytes(received) == payload
    else:
        assert uart.lost_in == len(payload) and not received


def test_an_unpaced_line_waits_for_the_host_whatever_the_flow_control(wire):
    module_end, host_end = wire
    loop = LogicalLoop()
    uart = Uart(loop, module_end.fileno(), 115200, lambda data: None, paced=False,
                host_line=lambda: HostLine(115200, False))
    uart.write(os.urandom(100_000))
    assert uart.lost_out == 0 and uart.backlog > 0  # the rest waits for the host to read
