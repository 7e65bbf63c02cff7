"""The emulator cannot be killed: any line gets a result code and the module carries on; its
command line refuses bad options with a usage error. Driven with plain pyserial, no atsock."""
import asyncio
import socket
import subprocess
import sys

import pytest

from bench import emulator_fuzz
from fakemodem import FakeModem
from fakemodem.faults import Faults

from .at_client import AtPort
from .conftest import UdpEcho

NETWORKS = {"lab": "pw"}


def free_port(kind=socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.parametrize("firmware", ["1.7.4", "2.2.0"])
def test_esp_numbers_out_of_range_are_refused_and_the_module_carries_on(firmware, echo_server):
    with FakeModem("esp8285", firmware=firmware, networks=NETWORKS) as fm, AtPort(fm.port, b"\r\n") as at:
        at.sync()
        assert at.command("ATE0").endswith(b"\r\nOK\r\n")
        assert at.command('AT+CWJAP="lab","pw"').endswith(b"\r\nOK\r\n")
        assert at.command("AT+CIPMUX=1") == b"\r\nOK\r\n"
        for line in ['AT+CIPSTART=0,"TCP","127.0.0.1",70000', "AT+CIPSERVER=1,99999999", "AT+CIPSERVER=1,-1",
                     'AT+CIPSTART=1,"UDP","127.0.0.1",5000,70000', 'AT+CIPSTART=2,"UDP","127.0.0.1",-1',
                     "AT+CIPSEND=0,99999999999999999999", 'AT+CIPSTART=9999999999,"TCP","127.0.0.1",80',
                     "AT+CIPSERVERMAXCONN=-3", "AT+CIPMUX=7"]:
            assert at.command(line).endswith(b"\r\nERROR\r\n"), line
            assert at.command("AT") == b"\r\nOK\r\n"
        assert fm.call(fm.module.open_ids) == []
        # and it still works
        assert at.command(f'AT+CIPSTART=0,"TCP","127.0.0.1",{echo_server.port}') == b"0,CONNECT\r\n\r\nOK\r\n"
        at.write(b"AT+CIPSEND=0,4\r\n")
        at.read_until(rb">")
        at.write(b"ping")
        at.read_until(rb"SEND OK\r\n")
        assert at.read_until(rb"\+IPD,0,4:ping") .endswith(b"+IPD,0,4:ping")


def test_quectel_udp_service_refuses_an_impossible_port_and_keeps_the_service():
    echo = UdpEcho(prefix=b"re:")
    local = free_port(socket.SOCK_DGRAM)
    try:
        with FakeModem("quectel") as fm, AtPort(fm.port) as at:
            at.sync()
            at.command("ATE0")
            assert at.command("AT+QIACT=1") == b"\r\nOK\r\n"
            assert at.command(f'AT+QIOPEN=1,0,"UDP SERVICE","127.0.0.1",0,{local},0') == b"\r\nOK\r\n"
            assert at.read_until(rb"\+QIOPEN: 0,\d+\r\n").endswith(b"+QIOPEN: 0,0\r\n")
            for port in ("70000", "-1", "0", "99999999", "", "x"):
                assert at.command(f'AT+QISEND=0,3,"127.0.0.1",{port}') == b"\r\nERROR\r\n", port
            assert at.command("AT+QIGETERROR").startswith(b"\r\n+QIGETERROR: 552,")
            state = at.command("AT+QISTATE=1,0")
            assert f'+QISTATE: 0,"UDP SERVICE","10.64.12.7",0,{local},2,1,0,0,"uart1"'.encode() in state
            at.write(f'AT+QISEND=0,3,"127.0.0.1",{echo.port}\r'.encode())
            at.read_until(rb"> ")
            at.write(b"abc")
            at.read_until(rb"\r\nSEND OK\r\n")
            at.read_until(rb'\+QIURC: "recv",0\r\n')
            assert at.command("AT+QIRD=0") == (f'\r\n+QIRD: 6,"127.0.0.1",{echo.port}\r\nre:abc\r\n\r\nOK\r\n'
                                               .encode())
    finally:
        echo.close()


BAD_OPTIONS = [
    ["quectel", "--link", "/nonexistent/x"],
    ["quectel", "--fault", "nonsense=1"],
    ["quectel", "--fault", "buffer=-100"],
    ["quectel", "--fault", "split=2"],
    ["quectel", "--fault", "delay=nan"],
    ["esp8285", "--firmware", "abc"],
    ["esp8285", "--firmware", "3.0"],
    ["quectel", "--baudrate", "-5"],
    ["quectel", "--latency", "nan"],
    ["quectel", "--latency", "-1"],
    ["quectel", "--host", "a=notanip"],
    ["quectel", "--blackhole", "nowhere"],
    ["quectel", "--firmware", "1.7.4"],
    ["quectel", "--identity", "imie=1"],
    ["quectel", "--identity", "csq=12"],
    ["quectel", "--identity", "channel=six"],
    ["quectel", "--identity", 'operator=a"b'],
    ["nodialect"],
]


@pytest.mark.parametrize("argv", BAD_OPTIONS, ids=" ".join)
def test_the_command_line_refuses_bad_options_with_a_usage_error(argv):
    result = subprocess.run([sys.executable, "-m", "fakemodem", *argv], capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    assert result.stderr.startswith("usage: python -m fakemodem")
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


def test_the_command_line_will_not_replace_a_file_that_is_not_a_link(tmp_path):
    victim = tmp_path / "precious"
    victim.write_text("keep me")
    result = subprocess.run([sys.executable, "-m", "fakemodem", "quectel", "--link", str(victim)],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 2 and "not a symlink" in result.stderr
    assert victim.read_text() == "keep me"


@pytest.mark.parametrize("config", [{"delay": float("nan")}, {"delay": -1}, {"buffer": 0}, {"buffer": 10.5},
                                    {"split": float("inf")}, {"urc": "0.5"}, {"busy": True}])
def test_fault_settings_are_checked(config):
    with pytest.raises(ValueError):
        Faults(config)


@pytest.mark.parametrize("dialect", ["quectel", "esp8285"])
def test_fuzz_in_process_a_hundred_thousand_lines(dialect):
    report = emulator_fuzz.run_in_process(dialect, 100_000, seed=11)
    assert report.lines == 100_000
    assert report.failures == []


@pytest.mark.parametrize("dialect", ["quectel", "esp8285"])
def test_fuzz_through_the_pty(dialect):
    report = emulator_fuzz.run_through_pty(dialect, 300, seed=5)
    assert report.lines == 300
    assert report.failures == []


class Boom(BaseException):
    """Not an Exception: nothing in the command loop may catch it, so the loop dies."""


def test_the_fuzz_notices_a_dead_command_loop():
    async def run():
        module = emulator_fuzz.InProcess("quectel")
        await module.start()

        async def explode(cmd):
            raise Boom()

        module.module.handlers["+BOOM"] = explode
        assert await module.feed(b"AT") is None
        problem = await module.feed(b"AT+BOOM")
        with pytest.raises(Boom):
            await module.task
        return problem

    assert asyncio.run(run()) == "the module did not come back to its command prompt"
