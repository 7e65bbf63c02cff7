"""Status, configuration and error-style commands of the emulator, and every switch for what the
reference leaves open, byte for byte through the pty (plain pyserial, no atsock)."""
import socket
import time

import pytest

from fakemodem import FakeModem

from .at_client import AtPort
from .conftest import TcpServer, echo_handler


@pytest.fixture
def echo():
    server = TcpServer(echo_handler)
    yield server
    server.close()


def quectel(activate=True, **options):
    fm = FakeModem("quectel", **options)
    at = AtPort(fm.port)
    at.sync()
    at.command("ATE0")
    if activate:
        at.command("AT+QIACT=1")
    return fm, at


def esp(firmware="2.2", join=True, **options):
    fm = FakeModem("esp8285", firmware=firmware, networks={"lab": "pw", "open-net": ""}, **options)
    at = AtPort(fm.port, b"\r\n")
    at.sync()
    at.command("ATE0")
    if join:
        at.command('AT+CWJAP="lab","pw"')
    return fm, at


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def open_tcp(at, port, sock_id=0, mode=0):
    at.command(f'AT+QIOPEN=1,{sock_id},"TCP","127.0.0.1",{port},0,{mode}')
    at.read_until(rb"\+QIOPEN: %d,0\r\n" % sock_id)


def qisend(at, sock_id, data):
    at.write(b"AT+QISEND=%d,%d\r" % (sock_id, len(data)))
    at.read_until(rb"> ")
    at.write(data)
    return at.read_until(rb"\r\n(SEND OK|SEND FAIL|ERROR)\r\n")


# --- ESP status per generation ------------------------------------------------------------------------
@pytest.mark.parametrize("firmware,style,before,after_failure", [
    ("1.7", "generation", 5, 5), ("2.2", "generation", 1, 5), ("2.2", "1.x", 5, 5)])
def test_esp_cipstatus_values_per_generation(firmware, style, before, after_failure, echo):
    fm, at = esp(firmware, join=False, cipstatus_style=style)
    with fm, at:
        assert at.command("AT+CIPSTATUS") == b"STATUS:%d\r\n\r\nOK\r\n" % before
        at.command('AT+CWJAP="nope","x"')
        assert at.command("AT+CIPSTATUS") == b"STATUS:%d\r\n\r\nOK\r\n" % after_failure
        at.command('AT+CWJAP="lab","pw"')
        assert at.command("AT+CIPSTATUS") == b"STATUS:2\r\n\r\nOK\r\n"
        at.command(f'AT+CIPSTART="TCP","127.0.0.1",{echo.port}')
        status = at.command("AT+CIPSTATUS")
        assert status.startswith(b'STATUS:3\r\n+CIPSTATUS:0,"TCP","127.0.0.1",%d,' % echo.port)
        assert status.endswith(b",0\r\n\r\nOK\r\n")
        at.command("AT+CIPCLOSE")
        assert at.command("AT+CIPSTATUS") == b"STATUS:4\r\n\r\nOK\r\n"


def test_esp_2x_wifi_off_is_status_0():
    fm, at = esp("2.2", join=False)
    with fm, at:
        assert at.command("AT+CWMODE=0") == b"\r\nOK\r\n"
        assert at.command("AT+CIPSTATUS") == b"STATUS:0\r\n\r\nOK\r\n"
        assert at.command('AT+CWJAP="lab","pw"') == b"\r\nERROR\r\n"  # no station interface
    fm, at = esp("1.7", join=False)
    with fm, at:
        assert at.command("AT+CWMODE_CUR=0") == b"\r\nERROR\r\n"  # no RF-off mode on 1.x


def test_esp_state_queries_exist_on_2x_only(echo):
    fm, at = esp("2.2", join=False)
    with fm, at:
        assert at.command("AT+CWSTATE?") == b'+CWSTATE:0,""\r\n\r\nOK\r\n'
        at.command('AT+CWJAP="nope","x"')
        assert at.command("AT+CWSTATE?") == b'+CWSTATE:4,"nope"\r\n\r\nOK\r\n'
        at.command('AT+CWJAP="lab","pw"')
        assert at.command("AT+CWSTATE?") == b'+CWSTATE:2,"lab"\r\n\r\nOK\r\n'
        assert at.command("AT+CIPSTATE?") == b"\r\nOK\r\n"
        at.command("AT+CIPMUX=1")
        at.command(f'AT+CIPSTART=2,"TCP","127.0.0.1",{echo.port}')
        assert at.command("AT+CIPSTATE?").startswith(b'+CIPSTATE:2,"TCP","127.0.0.1",%d,' % echo.port)
    fm, at = esp("1.7")
    with fm, at:
        assert at.command("AT+CWSTATE?") == b"\r\nERROR\r\n"
        assert at.command("AT+CIPSTATE?") == b"\r\nERROR\r\n"


def test_esp_cwlap_lists_the_known_networks():
    fm, at = esp("2.2", join=False)
    with fm, at:
        assert at.command("AT+CWLAP") == (b'+CWLAP:(3,"lab",-40,"aa:bb:cc:dd:ee:00",1)\r\n'
                                          b'+CWLAP:(0,"open-net",-45,"aa:bb:cc:dd:ee:01",6)\r\n\r\nOK\r\n')
        assert at.command('AT+CWLAP="open-net"') == b'+CWLAP:(0,"open-net",-45,"aa:bb:cc:dd:ee:01",6)\r\n\r\nOK\r\n'


# --- the line rate ------------------------------------------------------------------------------------
@pytest.mark.parametrize("report,shown", [("actual", 919540), ("requested", 921600)])
def test_esp_uart_cur_changes_the_line_rate_after_its_ok(report, shown):
    fm, at = esp("2.2", join=False, uart_report=report, boot_delay=0.5)  # time to switch before "ready"
    with fm, at:
        assert at.command("AT+UART_CUR=921600,8,1,0,0") == b"\r\nOK\r\n"  # at the old rate
        assert fm.call(lambda: fm.uart.baudrate) == 921600
        assert_garbled(at)  # the host still at 115200 reads garbage
        at.listen_at(921600)
        at.write(b"\r\n")  # ends the garbage the module heard (a line of its own: ERROR)
        at.read_quiet(0.1)
        assert at.command("AT+UART_CUR?") == b"+UART_CUR:%d,8,1,0,0\r\n\r\nOK\r\n" % shown
        at.command("AT+RST")
        at.listen_at(115200)  # _CUR is not kept over a reset
        at.sync()
        assert fm.call(lambda: fm.uart.baudrate) == 115200
        at.command("AT+UART_DEF=460800,8,1,0,3")
        at.listen_at(460800)
        at.command("AT+RST")
        at.sync()  # _DEF is
        assert fm.line()["module_baudrate"] == 460800 and fm.line()["module_rts"] and fm.line()["module_cts"]
        assert at.command("AT+UART_CUR=921600,9,1,0,0").endswith(b"\r\nERROR\r\n")  # 9 data bits


def assert_garbled(at):
    """A command at the wrong rate: the module hears garbage and what comes back is garbage."""
    at.write(b"AT\r\n")
    heard = at.read_quiet(0.3)
    assert b"OK" not in heard


def test_quectel_ipr_changes_the_rate_and_at_w_keeps_it():
    fm, at = quectel(activate=False, boot_delay=1.0)  # time to switch before "RDY", on a loaded machine too
    with fm, at:
        assert at.command("AT+IPR?") == b"\r\n+IPR: 115200\r\n\r\nOK\r\n"
        assert at.command("AT+IPR=921600") == b"\r\nOK\r\n"
        assert fm.call(lambda: fm.uart.baudrate) == 921600
        at.listen_at(921600)
        at.command("AT+CFUN=1,1")
        at.listen_at(115200)  # not saved
        at.read_until(rb"RDY\r\n")
        assert fm.call(lambda: fm.uart.baudrate) == 115200
        at.read_until(rb"SMS DONE\r\n")
        at.command("AT+IPR=460800")
        at.listen_at(460800)
        assert at.command("AT&W") == b"AT&W\r\r\nOK\r\n"  # echo came back with the reset
        at.command("AT+CFUN=1,1")
        at.read_until(rb"SMS DONE\r\n")
        assert fm.call(lambda: fm.uart.baudrate) == 460800
        assert at.command("AT+IPR=12345").endswith(b"\r\nERROR\r\n")


# --- Quectel error styles -----------------------------------------------------------------------------
@pytest.mark.parametrize("cmee,answer", [(0, b"\r\nERROR\r\n"), (1, b"\r\n+CME ERROR: 10\r\n"),
                                         (2, b"\r\n+CME ERROR: SIM not inserted\r\n")])
def test_quectel_cmee_styles(cmee, answer):
    fm, at = quectel(activate=False, sim="absent")
    with fm, at:
        assert at.command(f"AT+CMEE={cmee}") == b"\r\nOK\r\n"
        assert at.command("AT+CPIN?") == answer
        assert at.command("AT+CMEE?") == b"\r\n+CMEE: %d\r\n\r\nOK\r\n" % cmee
        assert at.command("AT+CMEE=?") == b"\r\n+CMEE: (0-2)\r\n\r\nOK\r\n"


@pytest.mark.parametrize("case,text", [("lower", b"invalid parameters"), ("capitalized", b"Invalid parameters")])
def test_quectel_tcpip_errors_as_cme_texts(case, text):
    fm, at = quectel(ip_error_style="CME", error_text_case=case)
    with fm, at:
        at.command("AT+CMEE=2")
        assert at.command('AT+QIOPEN=1,12,"TCP","127.0.0.1",80,0,0') == b"\r\n+CME ERROR: " + text + b"\r\n"
        at.command("AT+CMEE=1")
        assert at.command('AT+QIOPEN=1,12,"TCP","127.0.0.1",80,0,0') == b"\r\n+CME ERROR: 552\r\n"
        assert at.command("AT+QIGETERROR") == b"\r\n+QIGETERROR: 552," + text + b"\r\n\r\nOK\r\n"


def test_quectel_basic_command_errors():
    fm, at = quectel(activate=False, basic_error="CME")
    with fm, at:
        at.command("AT+CMEE=1")
        assert at.command("AT+CTZR=9") == b"\r\n+CME ERROR: 50\r\n"
        assert at.command("AT+NOSUCH") == b"\r\nERROR\r\n"
    fm, at = quectel(activate=False)
    with fm, at:
        at.command("AT+CMEE=1")
        assert at.command("AT+CTZR=9") == b"\r\nERROR\r\n"


# --- Quectel configuration ------------------------------------------------------------------------------
def test_quectel_bring_up_configuration_commands():
    fm, at = quectel(activate=False)
    with fm, at:
        for line, answer in [
            ("AT+CTZR?", b"\r\n+CTZR: 0\r\n\r\nOK\r\n"), ("AT+CTZR=2", b"\r\nOK\r\n"),
            ("AT+CTZR?", b"\r\n+CTZR: 2\r\n\r\nOK\r\n"), ("AT+CTZR=?", b"\r\n+CTZR: (0-2)\r\n\r\nOK\r\n"),
            ("AT+CTZU=1", b"\r\nOK\r\n"), ("AT+CMGF=1", b"\r\nOK\r\n"), ("AT+CMGF?", b"\r\n+CMGF: 1\r\n\r\nOK\r\n"),
            ('AT+CSCS="IRA"', b"\r\nOK\r\n"), ("AT+CSCS?", b'\r\n+CSCS: "IRA"\r\n\r\nOK\r\n'),
            ("AT+CPMS?", b'\r\n+CPMS: "SM",0,50,"SM",0,50,"SM",0,50\r\n\r\nOK\r\n'),
            ('AT+CPMS="ME","ME","ME"', b"\r\n+CPMS: 0,50,0,50,0,50\r\n\r\nOK\r\n"),
            ("AT+CNMI=2,1,0,0,0", b"\r\nOK\r\n"), ("AT+CNMI?", b"\r\n+CNMI: 2,1,0,0,0\r\n\r\nOK\r\n"),
            ("AT+CREG=2", b"\r\nOK\r\n"), ("AT+CREG?", b'\r\n+CREG: 2,1,"1A2B","01C2D3E4",8\r\n\r\nOK\r\n'),
            ("AT+CEREG=2", b"\r\nOK\r\n"), ("AT+CEREG?", b'\r\n+CEREG: 2,1,"1A2B","01C2D3E4",8\r\n\r\nOK\r\n'),
            ('AT+CGDCONT=1,"IP","iot.example"', b"\r\nOK\r\n"),
            ("AT+CGDCONT?", b'\r\n+CGDCONT: 1,"IP","iot.example","0.0.0.0",0,0\r\n\r\nOK\r\n'),
            ("AT+CGATT?", b"\r\n+CGATT: 1\r\n\r\nOK\r\n"),
            ('AT+QURCCFG="urcport","usbat"', b"\r\nOK\r\n"),
            ('AT+QURCCFG="urcport"', b'\r\n+QURCCFG: "urcport","usbat"\r\n\r\nOK\r\n'),
        ]:
            assert at.command(line) == answer, line
        fm.lose_registration(0.3)
        assert at.read_until(rb"\+CEREG: 2\r\n").endswith(b"\r\n+CREG: 2\r\n\r\n+CEREG: 2\r\n")
        assert at.read_until(rb'\+CEREG: 1,"1A2B","01C2D3E4",8\r\n')


def test_quectel_cfun_levels():
    fm, at = quectel()
    with fm, at:
        assert at.command("AT+CFUN=4") == b"\r\nOK\r\n"
        assert at.read_exact(24) == b'\r\n+QIURC: "pdpdeact",1\r\n'
        assert at.command("AT+CFUN?") == b"\r\n+CFUN: 4\r\n\r\nOK\r\n"
        assert at.command("AT+CEREG?") == b"\r\n+CEREG: 0,0\r\n\r\nOK\r\n"
        assert at.command("AT+QIACT=1") == b"\r\nERROR\r\n"
        assert at.command("AT+CFUN=1") == b"\r\nOK\r\n"
        assert at.command("AT+QIACT=1") == b"\r\nOK\r\n"
        assert at.command("AT+CFUN=1,1") == b"\r\nOK\r\n"
        at.read_until(rb"RDY\r\n")
        assert at.command("AT+CFUN=2").endswith(b"\r\nERROR\r\n")


def test_quectel_qicfg_options_and_their_ranges():
    fm, at = quectel(activate=False)
    with fm, at:
        for name, default, good, bad in [("transpktsize", b"1024", "512", "1461"), ("transwaittm", b"2", "20", "21"),
                                         ("dataformat", b"0,0", "1,0", "2,0"), ("viewmode", b"0", "1", "2"),
                                         ("tcp/retranscfg", b"12,600", "20,100", "2,600")]:
            assert at.command(f'AT+QICFG="{name}"') == b'\r\n+QICFG: "%s",%s\r\n\r\nOK\r\n' % (name.encode(), default)
            assert at.command(f'AT+QICFG="{name}",{good}') == b"\r\nOK\r\n"
            assert at.command(f'AT+QICFG="{name}"').endswith(b",%s\r\n\r\nOK\r\n" % good.encode())
            assert at.command(f'AT+QICFG="{name}",{bad}') == b"\r\nERROR\r\n"
        assert at.command('AT+QICFG="sendinfo",1') == b"\r\nERROR\r\n"  # EC200U only
    fm, at = quectel(activate=False, model="EC200U")
    with fm, at:
        assert at.command('AT+QICFG="sendinfo",1') == b"\r\nOK\r\n"
        assert at.command('AT+QICFG="qisend/timeout"') == b'\r\n+QICFG: "qisend/timeout",5\r\n\r\nOK\r\n'


@pytest.mark.parametrize("hex_length,sent_length", [("bytes", 3), ("chars", 6)])
def test_quectel_hex_dataformat_and_viewmode(hex_length, sent_length, echo):
    fm, at = quectel(hex_length=hex_length)
    with fm, at:
        open_tcp(at, echo.port)
        at.command('AT+QICFG="dataformat",1,1')
        at.write(b"AT+QISEND=0,%d\r" % sent_length)
        at.read_until(rb"> ")
        at.write(b"616263")
        at.read_until(rb"SEND OK\r\n")
        at.read_until(rb'"recv",0\r\n')
        assert at.command("AT+QIRD=0,1500") == b"\r\n+QIRD: %d\r\n616263\r\n\r\nOK\r\n" % sent_length
        assert at.command("AT+QIRD=0,1500") == b"\r\n+QIRD: 0\r\n\r\nOK\r\n"  # drained: the URC re-arms
        at.command('AT+QICFG="dataformat",0,0')
        at.command('AT+QICFG="viewmode",1')
        qisend(at, 0, b"xyz")
        at.read_until(rb'"recv",0\r\n')
        assert at.command("AT+QIRD=0,1500") == b"\r\n+QIRD: 3,xyz\r\n\r\nOK\r\n"
        at.command("AT+QIRD=0,1500")
        assert at.command('AT+QISENDEX=0,"414243"') == b"\r\nSEND OK\r\n"
        at.read_until(rb'"recv",0\r\n')
        assert at.command("AT+QIRD=0,1500") == b"\r\n+QIRD: 3,ABC\r\n\r\nOK\r\n"
        assert at.command('AT+QISENDEX=0,"41424"') == b"\r\nERROR\r\n"  # odd length


@pytest.mark.parametrize("cancel", ["OK", "SEND FAIL"])
def test_quectel_variable_length_send(cancel, echo):
    fm, at = quectel(qisend_cancel=cancel)
    with fm, at:
        open_tcp(at, echo.port)
        at.write(b"AT+QISEND=0\r")
        at.read_until(rb"> ")
        at.write(b"typed text\x1a")
        assert at.read_until(rb"\r\nSEND OK\r\n") == b"\r\nSEND OK\r\n"
        at.read_until(rb'"recv",0\r\n')
        assert at.command("AT+QIRD=0,1500") == b"\r\n+QIRD: 10\r\ntyped text\r\n\r\nOK\r\n"
        at.write(b"AT+QISEND=0\r")
        at.read_until(rb"> ")
        at.write(b"never mind\x1b")
        assert at.read_exact(len(cancel) + 4) == b"\r\n%s\r\n" % cancel.encode()
        assert at.command("AT+QISEND=0,0") == b"\r\n+QISEND: 10,10,0\r\n\r\nOK\r\n"


# --- Quectel switches -----------------------------------------------------------------------------------
def test_quectel_switches_for_closing_states_and_dns(echo):
    fm, at = quectel(qiclose_unknown="ERROR", connected_state=3, dnsgip_failure_fields=3)
    with fm, at:
        assert at.command("AT+QICLOSE=5") == b"\r\nERROR\r\n"
        open_tcp(at, echo.port)
        assert b',3,1,0,0,"uart1"' in at.command("AT+QISTATE=1,0")
        at.command('AT+QIDNSGIP=1,"nowhere.invalid"')
        assert at.read_until(rb'dnsgip",565[^\r]*\r\n').endswith(b'"dnsgip",565,0,0\r\n')


def test_quectel_push_switches():
    source = TcpServer(lambda conn: (conn.sendall(b"pushed"), conn.recv(1)))
    fm, at = quectel(push_crlf=True)
    with fm, at:
        open_tcp(at, source.port, mode=1)
        assert at.read_exact(30) == b'\r\n+QIURC: "recv",0,6\r\npushed\r\n'
    source.close()


def test_quectel_incoming_sockets_follow_the_listener_when_switched():
    port = free_port()
    fm, at = quectel(incoming_access_mode="listener")
    with fm, at:
        at.command(f'AT+QIOPEN=1,11,"TCP LISTENER","127.0.0.1",0,{port},1')
        at.read_until(rb"\+QIOPEN: 11,0\r\n")
        client = socket.create_connection(("127.0.0.1", port))
        client.sendall(b"hi")
        at.read_until(rb'"incoming",0,11,[^\r]*\r\n')
        assert at.read_exact(24) == b'\r\n+QIURC: "recv",0,2\r\nhi'
        client.close()


def test_quectel_transparent_close_as_a_urc():
    holder = {}

    def keep(conn):
        holder["conn"] = conn
        echo_handler(conn)

    server = TcpServer(keep)
    fm, at = quectel(transparent_close="urc")
    with fm, at:
        assert at.command(f'AT+QIOPEN=1,0,"TCP","127.0.0.1",{server.port},0,2') == b"\r\nCONNECT\r\n"
        time.sleep(0.1)
        holder["conn"].shutdown(socket.SHUT_RDWR)
        assert at.read_exact(22) == b'\r\n+QIURC: "closed",0\r\n'
        assert at.command("AT") == b"\r\nOK\r\n"
    server.close()


# --- ESP switches ------------------------------------------------------------------------------------------
def test_esp_passthrough_close_silent():
    holder = {}

    def keep(conn):
        holder["conn"] = conn
        echo_handler(conn)

    server = TcpServer(keep)
    fm, at = esp(passthrough_close="silent")
    with fm, at:
        at.command("AT+CIPMODE=1")
        at.command(f'AT+CIPSTART="TCP","127.0.0.1",{server.port}')
        at.write(b"AT+CIPSEND\r\n")
        at.read_until(rb">")
        time.sleep(0.1)
        holder["conn"].shutdown(socket.SHUT_RDWR)
        time.sleep(0.2)
        assert at.read_quiet(0.1) == b""
        assert at.command("AT") == b"\r\nOK\r\n"
        assert at.command("AT+CIPSTATUS") == b"STATUS:4\r\n\r\nOK\r\n"
    server.close()


def test_esp_sysmsg_bit_0_reports_quitt(echo):
    fm, at = esp(escape_guard=0.1)
    with fm, at:
        at.command("AT+SYSMSG=1")
        at.command("AT+CIPMODE=1")
        at.command(f'AT+CIPSTART="TCP","127.0.0.1",{echo.port}')
        at.write(b"AT+CIPSEND\r\n")
        at.read_until(rb">")
        time.sleep(0.15)
        at.write(b"+++")
        assert at.read_until(rb"\+QUITT\r\n") == b"+QUITT\r\n"


@pytest.mark.parametrize("count,recv", [("received", 8), ("sent", 7)])
def test_esp_cipsendex_recv_count_switch(count, recv, echo):
    fm, at = esp(sendex_recv_count=count)
    with fm, at:
        at.command(f'AT+CIPSTART="TCP","127.0.0.1",{echo.port}')
        at.write(b"AT+CIPSENDEX=8\r\n")
        at.read_until(rb">")
        at.write(b"a\\,bcdef")
        assert at.read_until(rb"SEND OK\r\n") == b"\r\nRecv %d bytes\r\n\r\nSEND OK\r\n" % recv
        assert at.read_exact(16) == b"\r\n+IPD,7:a,bcdef"


def test_quectel_cmee_power_on_switch():
    fm, at = quectel(activate=False, cmee=2, sim="absent")
    with fm, at:
        assert at.command("AT+CPIN?") == b"\r\n+CME ERROR: SIM not inserted\r\n"


def test_esp_switches_for_rejoin_failed_connect_and_passive_reads():
    closed = free_port()
    peer = TcpServer(lambda conn: (conn.sendall(b"abc"), conn.recv(1)))
    fm, at = esp("1.7", rejoin_disconnect=False, connect_failure="CONNECT FAIL", recvlen_unused="0")
    with fm, at:
        assert at.command('AT+CWJAP_CUR="lab","pw"') == b"WIFI CONNECTED\r\nWIFI GOT IP\r\n\r\nOK\r\n"
        at.command("AT+CIPMUX=1")
        assert at.command(f'AT+CIPSTART=1,"TCP","127.0.0.1",{closed}') == b"\r\nERROR\r\n"
        assert at.read_exact(16) == b"1,CONNECT FAIL\r\n"
        at.command("AT+CIPRECVMODE=1")
        at.command(f'AT+CIPSTART=2,"TCP","127.0.0.1",{peer.port}')
        at.read_until(rb"\+IPD,2,3\r\n")
        assert at.command("AT+CIPRECVLEN?") == b"+CIPRECVLEN:0,0,3,0,0\r\n\r\nOK\r\n"
    fm, at = esp("2.2", recvdata_crlf=True)
    with fm, at:
        at.command("AT+CIPMUX=1")
        at.command("AT+CIPRECVMODE=1")
        at.command(f'AT+CIPSTART=2,"TCP","127.0.0.1",{peer.port}')
        at.read_until(rb"\+IPD,2,3\r\n")
        assert at.command("AT+CIPRECVDATA=2,3") == b"\r\n+CIPRECVDATA:3,abc\r\nOK\r\n"
    peer.close()
