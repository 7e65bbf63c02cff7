"""Raw AT: ``Modem.at()`` through the engine, and ``atsock at`` on the serial port, batch and interactive."""
import re
import threading
import time

import pytest

import atsock
from atsock.wire.rawat import ATResult

from .cli_support import Terminal, run_atsock

QUERY = {"quectel": ("AT+CSQ", "+CSQ: 19,99"), "esp8285": ("AT+CIPSTAMAC?", '+CIPSTAMAC:"a4:cf:12:00:11:22"')}


def test_modem_at_shares_the_engine_with_socket_traffic(modem, dialect, echo_server):
    """Raw commands and a bulk echo at the same time: every answer whole, every byte back in order."""
    command, answer = QUERY[dialect]
    payload = bytes(range(256)) * 400
    received = bytearray()

    def echo():
        with modem.socket() as s:
            s.connect(("127.0.0.1", echo_server.port))
            for start in range(0, len(payload), 4096):
                s.sendall(payload[start:start + 4096])
                while len(received) < start + len(payload[start:start + 4096]):
                    received.extend(s.recv(65536))

    worker = threading.Thread(target=echo)
    worker.start()
    results = []
    while worker.is_alive() or not results:
        results.append(modem.at(command))
    worker.join()
    assert bytes(received) == payload
    assert {r.lines for r in results} == {(answer,)} and all(r.ok for r in results)


def test_modem_at_answers_errors_and_refusals(quectel_modem):
    m = quectel_modem
    assert m.at("ATI").lines == ("Quectel", "BG96", "Revision: BG96MAR02A07M1G")  # the emulator's default model
    assert m.at("AT+CPIN?").lines == ("+CPIN: READY",)  # the dialect also expects +CPIN: unsolicited
    with pytest.raises(atsock.ATCommandError) as failure:
        m.at("AT+NOSUCH")
    assert failure.value.result.final == "ERROR" and isinstance(failure.value, OSError)
    assert not m.at("AT+NOSUCH", check=False).ok
    for bad in ("AT+CSQ\r", "AT\nAT+QICLOSE=0", "AT+CSQ\x00", "AT+CSQ\x1a", "CSQ", "AT+QISEND=0,5", "ATD*99#"):
        with pytest.raises(ValueError):
            m.at(bad)
    with pytest.raises(TypeError):
        m.at(42)
    with pytest.raises(ValueError):
        m.at("AT", timeout=0)
    assert m.at("AT+GSN").lines == ("866349041749536",)  # still in step after all that


def test_at_result_error_code():
    assert ATResult("AT+QCCID", (), "+CME ERROR: 10").error_code == 10
    assert ATResult("AT", (), "ERROR").error_code is None


# --- atsock at PORT COMMAND ... ------------------------------------------------------------------
def test_at_commands_print_their_answers(quectel_fake_modem):
    done = run_atsock("at", quectel_fake_modem.port, "AT+CSQ", "AT+COPS?")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["+CSQ: 19,99", "OK", '+COPS: 0,0,"Example Net",8', "OK"]


def test_at_stops_and_fails_at_the_first_error(quectel_fake_modem):
    done = run_atsock("at", quectel_fake_modem.port, "AT+CSQ", "AT+NOSUCH", "AT+GSN")
    assert done.returncode == 1
    assert done.stdout.splitlines() == ["+CSQ: 19,99", "OK", "ERROR"]
    assert "AT+GSN" not in quectel_fake_modem.received_commands


def test_at_takes_commands_on_stdin_and_traces(quectel_fake_modem):
    done = run_atsock("at", "--trace", quectel_fake_modem.port, stdin="ATI\n\nAT+QCCID\n")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["Quectel", "BG96", "Revision: BG96MAR02A07M1G", "OK",
                                        "+QCCID: 8939560000000806706F", "OK"]
    trace = done.stderr.splitlines()  # one format: time, logger, direction, control bytes escaped
    assert all(re.fullmatch(r"\d\d:\d\d:\d\d\.\d{3} DEBUG atsock\.at: (->|<-) [ -~]*", line) for line in trace)
    assert any(line.endswith(" -> ATI\\r\\n") for line in trace) and any(" <- " in line for line in trace)


def test_at_fail_final_of_esp_1x_and_cme_errors():
    from fakemodem import FakeModem

    with FakeModem("esp8285", networks={"lab-net": "right"}) as fm:
        done = run_atsock("at", fm.port, 'AT+CWJAP_CUR="lab-net","wrong"')
        assert done.returncode == 1 and done.stdout.splitlines()[-2:] == ["+CWJAP:2", "FAIL"]
    with FakeModem("quectel", sim="absent") as fm:
        done = run_atsock("at", fm.port, "AT+CMEE=1", "AT+QCCID")
        assert done.returncode == 1 and done.stdout.splitlines() == ["OK", "+CME ERROR: 10"]


def test_at_refuses_a_command_with_a_line_break(quectel_fake_modem):
    done = run_atsock("at", quectel_fake_modem.port, "AT+CSQ", "AT\rAT+QPOWD")
    assert done.returncode == 1 and "'\\r'" in done.stderr
    assert quectel_fake_modem.received_commands == []  # nothing at all went out


def test_at_gives_up_on_a_silent_module(quectel_fake_modem):
    quectel_fake_modem.hang(60)
    done = run_atsock("at", "--timeout", "0.3", quectel_fake_modem.port, "AT")
    assert done.returncode == 1 and "no final result within 0.3 s" in done.stderr


# --- the interactive console -------------------------------------------------------------------------
def _received(fm, command):
    return fm.received_commands.count(command)


def _wait_for(condition):
    deadline = time.monotonic() + 30
    while not condition():
        assert time.monotonic() < deadline, "condition never met"
        time.sleep(0.02)


def test_interactive_console(quectel_fake_modem, tmp_path):
    fm = quectel_fake_modem
    env = {"HOME": str(tmp_path), "PATH": "/usr/bin:/bin", "TERM": "xterm"}
    term = Terminal("at", fm.port, env=env)

    def shows(expected: bytes, keys: bytes = b"", event=None) -> None:
        """Type ``keys`` (or cause ``event``), see ``expected``, then wait for the prompt after it:
        keys typed before readline has taken the terminal again could be eaten by the tty driver."""
        mark = term.mark()
        term.type(keys) if keys else event()
        term.read_until(expected, since=mark)
        term.read_until(b"AT> ", since=term.output.index(expected, mark) + len(expected))

    try:
        term.read_until(b"AT> ")
        shows(b"+CSQ: 19,99\r\n\x1b[32mOK\x1b[0m", b"AT+CSQ\r")         # a final in colour on a terminal
        shows(b"\x1b[36mRING\x1b[0m", event=lambda: fm.inject(b"\r\nRING\r\n"))  # unsolicited, at the prompt
        shows(b"+CSQ: 19,99\r\n\x1b[32mOK", b"\x1b[A\r")                  # up arrow: the last command again
        assert _received(fm, "AT+CSQ") == 2
        shows(b"\x1b[31mERROR\x1b[0m", b"AT+NOSUCH\r")
        fm.hang(60)
        term.type(b"ATI\r")
        _wait_for(lambda: _received(fm, "ATI") == 1)
        shows(b"stopped waiting", b"\x03")                                 # Ctrl-C: stop waiting for the answer
        term.type(b"\x04")                                                 # Ctrl-D: leave
        assert term.wait() == 0
    finally:
        term.close()
    history = (tmp_path / ".local" / "state" / "atsock" / "at_history").read_text()
    assert "AT+CSQ" in history and "AT+NOSUCH" in history


# --- exclusive, options anywhere, data after a prompt, +++ ----------------------------------------
def test_at_opens_the_port_exclusively_unless_told_not_to(quectel_fake_modem):
    import serial

    holder = serial.Serial(quectel_fake_modem.port, exclusive=True)  # another program's terminal
    try:
        refused = run_atsock("at", quectel_fake_modem.port, "AT+GSN")
        assert "AT+GSN" not in quectel_fake_modem.received_commands  # nothing went out
        shared = run_atsock("at", "--non-exclusive", quectel_fake_modem.port, "AT+GSN")
    finally:
        holder.close()
    assert refused.returncode == 1 and f"serial port {quectel_fake_modem.port} is busy" in refused.stderr
    assert shared.returncode == 0 and shared.stdout.splitlines() == ["866349041749536", "OK"], shared.stderr


def test_options_go_before_or_after_the_commands(quectel_fake_modem):
    port = quectel_fake_modem.port
    for argv in (("at", port, "--timeout", "3", "AT+CSQ"), ("at", "--timeout", "3", port, "AT+CSQ"),
                 ("at", port, "AT+CSQ", "--timeout", "3", "--eol", "cr")):
        done = run_atsock(*argv)
        assert done.returncode == 0 and done.stdout.splitlines() == ["+CSQ: 19,99", "OK"], (argv, done.stderr)
    info = run_atsock("info", port, "--json", "--dialect", "quectel")
    assert info.returncode == 0 and '"model": "BG96"' in info.stdout


def test_data_after_a_prompt_from_the_command_line(tcp_server):
    from fakemodem import FakeModem

    received, done_reading = bytearray(), threading.Event()
    server = tcp_server(_collect(received, done_reading))
    with FakeModem("esp8285", networks={"lab-net": "right"}) as fm:
        commands = ['AT+CWJAP_CUR="lab-net","right"', "AT+CIPMUX=1",
                    f'AT+CIPSTART=0,"TCP","127.0.0.1",{server.port}', "AT+CIPSEND=0,7", "hello\\r\\n",
                    "AT+CIPCLOSE=0"]
        done = run_atsock("at", fm.port, *commands)
        assert done.returncode == 0, done.stdout + done.stderr
        assert "SEND OK" in done.stdout.splitlines()
        assert done_reading.wait(10)
        assert bytes(received) == b"hello\r\n"      # the escapes decoded, nothing added
        missing = run_atsock("at", fm.port, 'AT+CIPSTART=1,"TCP","127.0.0.1",' + str(server.port), "AT+CIPSEND=1,3")
        assert missing.returncode == 1 and "no argument follows it: cancelled" in missing.stderr


def _collect(received: bytearray, done: threading.Event):
    """A peer that keeps everything it is sent."""
    def handler(conn):
        for data in iter(lambda: conn.recv(100), b""):
            received.extend(data)
        done.set()
    return handler


def test_data_after_a_prompt_in_the_console_ends_with_ctrl_z_or_is_cancelled_with_esc(tcp_server, tmp_path):
    from fakemodem import FakeModem

    received, closed = bytearray(), threading.Event()
    server = tcp_server(_collect(received, closed))
    env = {"HOME": str(tmp_path), "PATH": "/usr/bin:/bin", "TERM": "xterm"}
    with FakeModem("quectel") as fm:
        term = Terminal("at", fm.port, env=env)

        def shows(keys: bytes, expected: bytes, then_prompt: bool = True) -> None:
            """Type, see ``expected``, then (unless data is asked for) the console's prompt again:
            keys typed before readline has the terminal again could be eaten by the tty driver."""
            mark = term.mark()
            term.type(keys)
            term.read_until(expected, since=mark)
            if then_prompt:
                term.read_until(b"AT> ", since=term.output.index(expected, mark) + len(expected))

        try:
            term.read_until(b"AT> ")
            shows(b"AT+QIACT=1\r", b"OK")
            shows(f'AT+QIOPEN=1,0,"TCP","127.0.0.1",{server.port},0,0\r'.encode(), b"+QIOPEN: 0,0")
            shows(b"AT+QISEND=0\r", b"Ctrl-Z sends it", then_prompt=False)
            shows(b"hi\rthere\x1a", b"SEND OK")                          # Enter is CR inside the data
            shows(b"AT+QISEND=0\r", b"Ctrl-Z sends it", then_prompt=False)
            shows(b"never\x1b", b"(cancelled)")                           # ESC: nothing is sent
            shows(b"AT+QICLOSE=0\r", b"OK")
            term.type(b"\x04")
            assert term.wait() == 0
        finally:
            term.close()
    assert closed.wait(10) and bytes(received) == b"hi\rthere"


def test_a_bare_plus_plus_plus_leaves_data_mode(tcp_server):
    from fakemodem import FakeModem

    server = tcp_server(_collect(bytearray(), threading.Event()))
    with FakeModem("quectel") as fm:
        opened = run_atsock("at", fm.port, "AT+QIACT=1", f'AT+QIOPEN=1,0,"TCP","127.0.0.1",{server.port},0,2')
        assert opened.returncode == 0 and opened.stdout.splitlines() == ["OK", "CONNECT"], opened.stderr
        done = run_atsock("at", fm.port, "+++", "AT+QISTATE=1,0")
        assert done.returncode == 0, done.stderr
        assert done.stdout.splitlines()[0] == "OK" and ',0,"uart1"' in done.stdout  # in command mode again
        assert "+++" not in fm.received_commands  # it went out as the escape, not as a command line
