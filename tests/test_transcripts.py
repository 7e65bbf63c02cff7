"""The reference transcripts (quectel-tcpip.md §17, esp-at.md §8), byte for byte, through the pty
with a plain pyserial client and real peers on 127.0.0.1. Addresses and ports of the reference are
replaced by loopback ones; where the module picks an id, ours is the lowest free one."""
import socket
import threading

import pytest

from fakemodem import FakeModem

from .at_client import AtPort
from .conftest import TcpServer, UdpEcho
from .transcript import play

HOSTS = {"example.org": ["203.0.113.80", "203.0.113.81"]}


def server(handler):
    return TcpServer(handler)


def hello_world(conn):
    assert conn.recv(5) == b"hello"
    conn.sendall(b"world!")
    conn.recv(1)


def free_port(kind=socket.SOCK_STREAM):
    with socket.socket(socket.AF_INET, kind) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# --- Quectel (quectel-tcpip.md §17) ----------------------------------------------------------------
def quectel_session(**options):
    fm = FakeModem("quectel", hosts=HOSTS, powered=False, **options)
    at = AtPort(fm.port)
    fm.power_on()  # once the port listens: a transcript starts with the boot
    return fm, at


def quectel_ready(at):
    play(at, r"""
        M: \r\nRDY\r\n
        M: \r\n+CFUN: 1\r\n
        M: \r\n+CPIN: READY\r\n
        M: \r\n+QIND: SMS DONE\r\n
        H: ATE0\r
        M: ATE0\r\r\nOK\r\n
        H: AT+CMEE=1\r
        M: \r\nOK\r\n
        H: AT+QIACT=1\r
        M: \r\nOK\r\n
    """)


def test_quectel_17_1_bring_up_from_power_on():
    fm, at = quectel_session(registration_delay=0.5)
    with fm, at:
        play(at, r"""
            M: \r\nRDY\r\n
            M: \r\n+CFUN: 1\r\n
            M: \r\n+CPIN: READY\r\n
            M: \r\n+QIND: SMS DONE\r\n
            H: AT\r
            M: AT\r\r\nOK\r\n
            H: ATE0\r
            M: ATE0\r\r\nOK\r\n
            H: AT+CMEE=1\r
            M: \r\nOK\r\n
            H: AT+QISDE=0\r
            M: \r\nOK\r\n
            H: AT+CPIN?\r
            M: \r\n+CPIN: READY\r\n\r\nOK\r\n
            H: AT+CEREG?\r
            M: \r\n+CEREG: 0,2\r\n\r\nOK\r\n  # still searching
            wait 0.6
            H: AT+CEREG?\r
            M: \r\n+CEREG: 0,1\r\n\r\nOK\r\n
            H: AT+QICSGP=1,1,"iot.example","","",0\r
            M: \r\nOK\r\n
            H: AT+QIACT?\r
            M: \r\nOK\r\n
            H: AT+QIACT=1\r
            M: \r\nOK\r\n
            H: AT+QIACT?\r
            M: \r\n+QIACT: 1,1,1,"10.64.12.7"\r\n\r\nOK\r\n
        """)


def test_quectel_17_2_tcp_client_in_buffer_access_mode():
    peer = server(hello_world)
    fm, at = quectel_session()
    with fm, at:
        quectel_ready(at)
        play(at, r"""
            H: AT+QIOPEN=1,0,"TCP","127.0.0.1",{port},0,0\r
            M: \r\nOK\r\n
            M: \r\n+QIOPEN: 0,0\r\n
            H: AT+QISEND=0,5\r
            M: \r\n>\x20
            H: hello
            M: \r\nSEND OK\r\n
            M: \r\n+QIURC: "recv",0\r\n
            H: AT+QISEND=0,0\r
            M: \r\n+QISEND: 5,5,0\r\n\r\nOK\r\n
            H: AT+QIRD=0,1500\r
            M: \r\n+QIRD: 6\r\nworld!\r\n\r\nOK\r\n
            H: AT+QIRD=0,1500\r
            M: \r\n+QIRD: 0\r\n\r\nOK\r\n
            H: AT+QIRD=0,0\r
            M: \r\n+QIRD: 6,6,0\r\n\r\nOK\r\n
            H: AT+QICLOSE=0\r
            M: \r\nOK\r\n
        """, port=peer.port)
    peer.close()


def test_quectel_17_3_remote_close():
    peer = server(lambda conn: conn.sendall(b"bye."))
    fm, at = quectel_session()
    with fm, at:
        quectel_ready(at)
        play(at, r"""
            H: AT+QIOPEN=1,1,"TCP","127.0.0.1",{port},0,0\r
            M: \r\nOK\r\n
            M: \r\n+QIOPEN: 1,0\r\n
            M: \r\n+QIURC: "recv",1\r\n
            M: \r\n+QIURC: "closed",1\r\n
            H: AT+QIRD=1,1500\r
            M: \r\n+QIRD: 4\r\nbye.\r\n\r\nOK\r\n
            H: AT+QISTATE=1,1\r
            M~ \r\n\+QISTATE: 1,"TCP","127\.0\.0\.1",{port},[0-9]+,4,1,0,0,"uart1"\r\n\r\nOK\r\n
            H: AT+QISEND=1,3\r
            M: \r\nERROR\r\n
            H: AT+QICLOSE=1\r
            M: \r\nOK\r\n
        """, port=peer.port)
    peer.close()


def test_quectel_17_4_udp_service():
    peer = UdpEcho()
    peer.prefix = b""
    local = free_port(socket.SOCK_DGRAM)
    fm, at = quectel_session()
    with fm, at:
        quectel_ready(at)
        play(at, r"""
            H: AT+QIOPEN=1,2,"UDP SERVICE","127.0.0.1",0,{local},0\r
            M: \r\nOK\r\n
            M: \r\n+QIOPEN: 2,0\r\n
            H: AT+QISEND=2,4,"127.0.0.1",{port}\r
            M: \r\n>\x20
            H: ping
            M: \r\nSEND OK\r\n
            M: \r\n+QIURC: "recv",2\r\n
            H: AT+QIRD=2\r
            M: \r\n+QIRD: 4,"127.0.0.1",{port}\r\nping\r\n\r\nOK\r\n
            H: AT+QIRD=2\r
            M: \r\n+QIRD: 0\r\n\r\nOK\r\n
            H: AT+QICLOSE=2\r
            M: \r\nOK\r\n
        """, local=local, port=peer.port)
    peer.close()


def test_quectel_17_5_tcp_listener_with_an_incoming_connection():
    port = free_port()
    fm, at = quectel_session()
    with fm, at:
        quectel_ready(at)
        play(at, r"""
            H: AT+QIOPEN=1,11,"TCP LISTENER","127.0.0.1",0,{port},0\r
            M: \r\nOK\r\n
            M: \r\n+QIOPEN: 11,0\r\n
            H: AT+QISTATE=1,11\r
            M: \r\n+QISTATE: 11,"TCP LISTENER","10.64.12.7",0,{port},3,1,11,0,"uart1"\r\n\r\nOK\r\n
        """, port=port)
        client = socket.create_connection(("127.0.0.1", port))
        client.sendall(b"hi!")
        play(at, r"""
            M~ \r\n\+QIURC: "incoming",0,11,"127\.0\.0\.1",{cport}\r\n
            M: \r\n+QIURC: "recv",0\r\n
            H: AT+QIRD=0,1500\r
            M: \r\n+QIRD: 3\r\nhi!\r\n\r\nOK\r\n
            H: AT+QISEND=0,3\r
            M: \r\n>\x20
            H: yo!
            M: \r\nSEND OK\r\n
        """, cport=client.getsockname()[1])
        assert client.recv(3) == b"yo!"
        play(at, r"""
            H: AT+QICLOSE=0\r
            M: \r\nOK\r\n
            H: AT+QICLOSE=11\r
            M: \r\nOK\r\n
        """)
        client.close()


def test_quectel_17_6_dns_lookup():
    fm, at = quectel_session()
    with fm, at:
        quectel_ready(at)
        play(at, r"""
            H: AT+QIDNSCFG=1\r
            M: \r\n+QIDNSCFG: 1,"10.0.0.53","10.0.0.54"\r\n\r\nOK\r\n
            H: AT+QIDNSGIP=1,"example.org"\r
            M: \r\nOK\r\n
            M: \r\n+QIURC: "dnsgip",0,2,300\r\n
            M: \r\n+QIURC: "dnsgip","203.0.113.80"\r\n
            M: \r\n+QIURC: "dnsgip","203.0.113.81"\r\n
            H: AT+QIDNSGIP=1,"no-such-name.invalid"\r
            M: \r\nOK\r\n
            M: \r\n+QIURC: "dnsgip",565\r\n
        """)


def test_quectel_17_7_error_cases(echo_server):
    fm, at = quectel_session()
    with fm, at:
        quectel_ready(at)
        play(at, r"""
            H: AT+QIOPEN=1,0,"TCP","127.0.0.1",{port},0,0\r
            M: \r\nOK\r\n
            M: \r\n+QIOPEN: 0,0\r\n
            H: AT+QIOPEN=1,0,"TCP","127.0.0.1",{port},0,0\r
            M: \r\nOK\r\n
            M: \r\n+QIOPEN: 0,563\r\n
            H: AT+QIOPEN=1,12,"TCP","127.0.0.1",{port},0,0\r
            M: \r\nERROR\r\n
            H: AT+QIGETERROR\r
            M: \r\n+QIGETERROR: 552,invalid parameters\r\n\r\nOK\r\n
        """, port=echo_server.port)
        fm.set_faults({"send_fail": 1.0})
        play(at, r"""
            H: AT+QISEND=0,4\r
            M: \r\n>\x20
            H: full
            M: \r\nSEND FAIL\r\n
        """)
        fm.set_faults({})
        fm.drop_network()
        play(at, r"""
            M: \r\n+QIURC: "pdpdeact",1\r\n
            H: AT+QIDEACT=1\r
            M: \r\nOK\r\n
        """)


# --- ESP-AT (esp-at.md §8; 2.x unless a 1.x variant is given) -----------------------------------------
def esp_session(firmware="2.2", **options):
    fm = FakeModem("esp8285", firmware=firmware, hosts=HOSTS, networks={"lab-net": "s3cret-pass"}, powered=False,
                   **options)
    at = AtPort(fm.port, b"\r\n")
    fm.power_on()
    return fm, at


def esp_ready(at, mux=1):
    play(at, r"""
        M: \r\nready\r\n
        H: ATE0\r\n
        M: ATE0\r\n\r\nOK\r\n
        H: AT+CWJAP="lab-net","s3cret-pass"\r\n
        M: WIFI CONNECTED\r\n
        M: WIFI GOT IP\r\n
        M: \r\nOK\r\n
        H: AT+CIPMUX={mux}\r\n
        M: \r\nOK\r\n
    """, mux=mux)


@pytest.mark.parametrize("firmware,failure", [("2.2", "ERROR"), ("1.7", "FAIL")])
def test_esp_8_1_reset_and_wifi_join(firmware, failure):
    fm, at = esp_session(firmware)
    mode = "AT+CWMODE=1" if firmware == "2.2" else "AT+CWMODE_CUR=1"
    join = "AT+CWJAP" if firmware == "2.2" else "AT+CWJAP_CUR"
    with fm, at:
        play(at, r"""
            M: \r\nready\r\n
            H: AT+RST\r\n
            M: AT+RST\r\n\r\nOK\r\n
            M: \r\nready\r\n
            H: ATE0\r\n
            M: ATE0\r\n\r\nOK\r\n
            H: {mode}\r\n
            M: \r\nOK\r\n
            H: {join}="lab-net","s3cret-pass"\r\n
            M: WIFI CONNECTED\r\n
            M: WIFI GOT IP\r\n
            M: \r\nOK\r\n
            H: AT+CIPMUX=1\r\n
            M: \r\nOK\r\n
            H: AT+CWJAP="lab-net","wrong"\r\n
            M: WIFI DISCONNECT\r\n
            M: +CWJAP:2\r\n
            M: \r\n{failure}\r\n
        """, mode=mode, join=join, failure=failure)


@pytest.mark.parametrize("firmware,prompt", [("2.2", r"\r\nOK\r\n\r\n>"), ("1.7", r"\r\nOK\r\n> ")])
def test_esp_8_2_tcp_client_active_receive(firmware, prompt):
    peer = server(hello_world)
    fm, at = esp_session(firmware)
    with fm, at:
        esp_ready(at)
        play(at, r"""
            H: AT+CIPSTART=0,"TCP","127.0.0.1",{port}\r\n
            M: 0,CONNECT\r\n
            M: \r\nOK\r\n
            H: AT+CIPSEND=0,5\r\n
            M: {prompt}
            H: hello
            M: \r\nRecv 5 bytes\r\n
            M: \r\nSEND OK\r\n
            M: \r\n+IPD,0,6:world!
            H: AT+CIPCLOSE=0\r\n
            M: 0,CLOSED\r\n
            M: \r\nOK\r\n
        """, port=peer.port, prompt=prompt)
    peer.close()


@pytest.mark.parametrize("firmware", ["2.2", "1.7"])
def test_esp_8_3_tcp_client_passive_receive(firmware):
    peer = server(lambda conn: (conn.sendall(b"abcdefghijkl"), conn.recv(1)))
    fm, at = esp_session(firmware)
    if firmware == "2.2":
        reads = r"""
            M: +CIPRECVDATA:8,abcdefgh\r\nOK\r\n
            H: AT+CIPRECVDATA=1,8\r\n
            M: +CIPRECVDATA:4,ijkl\r\nOK\r\n"""
    else:
        reads = r"""
            M: \r\n+CIPRECVDATA,8:abcdefgh\r\nOK\r\n
            H: AT+CIPRECVDATA=1,8\r\n
            M: \r\n+CIPRECVDATA,4:ijkl\r\nOK\r\n"""
    with fm, at:
        esp_ready(at)
        play(at, r"""
            H: AT+CIPRECVMODE=1\r\n
            M: \r\nOK\r\n
            H: AT+CIPSTART=1,"TCP","127.0.0.1",{port}\r\n
            M: 1,CONNECT\r\n
            M: \r\nOK\r\n
            M: \r\n+IPD,1,12\r\n
            H: AT+CIPRECVLEN?\r\n
            M: +CIPRECVLEN:,12,,,\r\n\r\nOK\r\n
            H: AT+CIPRECVDATA=1,8\r\n
        """ + reads + r"""
            H: AT+CIPRECVDATA=1,8\r\n
            M: \r\nERROR\r\n
        """, port=peer.port)
    peer.close()


@pytest.mark.parametrize("firmware", ["2.2", "1.7"])
def test_esp_8_4_udp(firmware):
    peer = UdpEcho()
    local = free_port(socket.SOCK_DGRAM)
    fm, at = esp_session(firmware, )
    prompt = r"\r\nOK\r\n\r\n>" if firmware == "2.2" else r"\r\nOK\r\n> "
    with fm, at:
        esp_ready(at)
        play(at, r"""
            H: AT+CIPSTART=2,"UDP","127.0.0.1",{port},{local},2\r\n
            M: 2,CONNECT\r\n
            M: \r\nOK\r\n
            H: AT+CIPSEND=2,4\r\n
            M: {prompt}
            H: ping
            M: \r\nRecv 4 bytes\r\n
            M: \r\nSEND OK\r\n
            M: \r\n+IPD,2,4:ping
            H: AT+CIPSEND=2,3,"127.0.0.1",{port}\r\n
            M: {prompt}
            H: hey
            M: \r\nRecv 3 bytes\r\n
            M: \r\nSEND OK\r\n
            M: \r\n+IPD,2,3:hey
            H: AT+CIPDINFO=1\r\n
            M: \r\nOK\r\n
            H: AT+CIPSEND=2,4\r\n
            M: {prompt}
            H: pong
            M: \r\nRecv 4 bytes\r\n
            M: \r\nSEND OK\r\n
            M: \r\n+IPD,2,4,{ip},{port}:pong
        """, port=peer.port, local=local, prompt=prompt,
             ip='"127.0.0.1"' if firmware == "2.2" else "127.0.0.1")
    peer.close()


def test_esp_8_5_server_with_an_incoming_connection():
    port = free_port()
    fm, at = esp_session()
    with fm, at:
        esp_ready(at)
        play(at, r"""
            H: AT+CIPSERVERMAXCONN=2\r\n
            M: \r\nOK\r\n
            H: AT+CIPSERVER=1,{port}\r\n
            M: \r\nOK\r\n
            H: AT+CIPSTO=60\r\n
            M: \r\nOK\r\n
        """, port=port)
        client = socket.create_connection(("127.0.0.1", port))
        client.sendall(b"GET\n")
        play(at, r"""
            M: 0,CONNECT\r\n
            M: \r\n+IPD,0,4:GET\n
            H: AT+CIPSEND=0,3\r\n
            M: \r\nOK\r\n\r\n>
            H: ok\n
            M: \r\nRecv 3 bytes\r\n
            M: \r\nSEND OK\r\n
        """)
        assert client.recv(3) == b"ok\n"
        client.close()
        play(at, r"""
            M: 0,CLOSED\r\n
            H: AT+CIPSERVER=0\r\n
            M: \r\nOK\r\n
        """)


@pytest.mark.parametrize("firmware,found,missing", [
    ("2.2", r'+CIPDOMAIN:"203.0.113.80"\r\n\r\nOK\r\n', r"\r\nERROR\r\n"),
    ("1.7", r"+CIPDOMAIN:203.0.113.80\r\n\r\nOK\r\n", r"DNS Fail\r\n\r\nERROR\r\n"),
])
def test_esp_8_6_dns(firmware, found, missing):
    fm, at = esp_session(firmware)
    with fm, at:
        esp_ready(at)
        play(at, r"""
            H: AT+CIPDOMAIN="example.org"\r\n
            M: {found}
            H: AT+CIPDOMAIN="no-such-name.invalid"\r\n
            M: {missing}
        """, found=found, missing=missing)


@pytest.mark.parametrize("firmware,refusal", [("2.2", r"\r\nERROR\r\n"),
                                              ("1.7", r"link is not valid\r\n\r\nERROR\r\n")])
def test_esp_8_7_remote_close(firmware, refusal):
    peer = server(lambda conn: conn.sendall(b"bye."))
    fm, at = esp_session(firmware)
    with fm, at:
        esp_ready(at)
        play(at, r"""
            H: AT+CIPSTART=0,"TCP","127.0.0.1",{port}\r\n
            M: 0,CONNECT\r\n
            M: \r\nOK\r\n
            M: \r\n+IPD,0,4:bye.
            M: 0,CLOSED\r\n
            H: AT+CIPSEND=0,2\r\n
            M: {refusal}
        """, port=peer.port, refusal=refusal)
    peer.close()


def test_esp_8_8_errors(echo_server):
    closed = free_port()
    fm, at = esp_session(blackhole={"127.0.0.66"}, connect_timeout=1.0)
    with fm, at:
        esp_ready(at)
        play(at, r"""
            H: AT+CIPSTART=0,"TCP","127.0.0.1",{port}\r\n
            M: 0,CONNECT\r\n
            M: \r\nOK\r\n
            H: AT+CIPSTART=0,"TCP","127.0.0.1",{port}\r\n
            M: ALREADY CONNECTED\r\n
            M: \r\nERROR\r\n
            H: AT+CIPSTART=4,"TCP","127.0.0.1",{closed}\r\n
            M: \r\nERROR\r\n
            M: 4,CLOSED\r\n
            H: AT+SYSLOG=1\r\n
            M: \r\nOK\r\n
            H: AT+FOO\r\n
            M: ERR CODE:0x01090000\r\n
            M: \r\nERROR\r\n
            H: AT+SYSLOG=0\r\n
            M: \r\nOK\r\n
            H: AT+CIPSTART=1,"TCP","127.0.0.66",7000\r\n
            wait 0.2
            H: AT+CIPSTART=2,"TCP","127.0.0.1",{port}\r\n
            M: \r\nbusy p...\r\n
            M: \r\nERROR\r\n
            M: 1,CLOSED\r\n
        """, port=echo_server.port, closed=closed)
