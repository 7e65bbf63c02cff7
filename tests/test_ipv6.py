"""IPv6 end to end: AF_INET6 sockets -> atsock -> pty -> the emulator -> real host sockets on ::1,
for both dialects where the module has IPv6 (Quectel IPv4v6/IPv6 contexts, ESP-AT 2.x with
AT+CIPV6=1), and a clear EAFNOSUPPORT where it has none."""
import errno
import ipaddress
import os
import socket as std_socket
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import example, given, strategies as st

import atsock
import atsock.quecpython
from atsock.surface import inet
from fakemodem import FakeModem
from fakemodem import ipv6 as emulated_ipv6
from modems.quectel.bringup import context_addresses
from modems.quectel.sockets import address as quectel_address

from .at_client import AtPort
from .conftest import HOSTS, TcpServer, UdpEcho, echo_handler, emulator_options, modem_settings
from .test_hostile import SMUGGLING_HOSTS, LyingInt

V6_HOSTS = dict(HOSTS, **{"v6.test": "::1", "dual.test": ["127.0.0.1", "::1"]})


def emulator(dialect, **options):
    merged = dict(emulator_options(dialect), hosts=V6_HOSTS)
    if dialect == "esp8285":
        merged["firmware"] = "2.2"
    merged.update(options)
    return FakeModem(dialect, **merged)


def open_v6(fm, dialect, **settings):
    merged = dict(modem_settings(dialect), **({"ip_version": "ipv4v6"} if dialect == "quectel" else {"ipv6": True}))
    merged.update(settings)
    return atsock.open_modem(fm.port, dialect=dialect, **merged)


@pytest.fixture
def fake_modem6(dialect):
    with emulator(dialect) as fm:
        yield fm


@pytest.fixture
def modem6(fake_modem6, dialect):
    with open_v6(fake_modem6, dialect) as m:
        yield m


@pytest.fixture
def echo6():
    server = TcpServer(echo_handler, host="::1")
    yield server
    server.close()


@pytest.fixture
def udp_echo6():
    server = UdpEcho(host="::1")
    yield server
    server.close()


def echo_over(modem, family, host, port, size=100):
    payload = os.urandom(size)
    with modem.socket(family) as sock:
        sock.settimeout(10)
        sock.connect((host, port))
        sock.sendall(payload)
        return sock.read(size) == payload


def refused(call, code=None, kind=OSError):
    with pytest.raises(kind) as info:
        call()
    if code is not None:
        assert info.value.args[0] == code, info.value
    return str(info.value)


# --- the driver's wire forms, without a module ---------------------------------------------------

def test_quectel_writes_ipv6_out_in_eight_groups_and_reads_qiact_by_form():
    assert quectel_address("::1") == '"0:0:0:0:0:0:0:1"'
    assert quectel_address("2001:db8::1") == '"2001:db8:0:0:0:0:0:1"'
    assert quectel_address("127.0.0.1") == '"127.0.0.1"'
    # lines of the logs in ipv6.md §1.2: upper-case, compressed, IPv4 first
    assert context_addresses(["10.46.73.41", "2409:8D1E:1023:1B1B:18BE:A0EA:AEA9:AB47"]) == (
        "10.46.73.41", "2409:8d1e:1023:1b1b:18be:a0ea:aea9:ab47")
    assert context_addresses(["2409:8D1E:750C:DFA4::1"]) == (None, "2409:8d1e:750c:dfa4::1")
    assert context_addresses(["2001:DB8:0:0:0:0:0:7", "10.0.0.1"]) == ("10.0.0.1", "2001:db8::7")
    assert context_addresses([]) == (None, None)


MAPPED = ipaddress.IPv6Address("::ffff:192.0.2.1")  # Python 3.13's str() and exploded end it in a dotted quad


@given(st.ip_addresses(v=6), st.integers(0, 65535))
@example(MAPPED, 80)
def test_any_ipv6_address_survives_the_module_spelling_and_comes_back_as_cpython_spells_it(address, port):
    written = quectel_address(str(address)).strip('"')
    assert len(written.split(":")) == 8 and "::" not in written and written == written.lower()
    assert ipaddress.IPv6Address(written) == address
    for spelling in (written, written.upper(), str(address).upper()):  # what a module may print
        host = inet.sockaddr((spelling, port), atsock.AF_INET6)[0]
        assert host == std_socket.getnameinfo((spelling, port), std_socket.NI_NUMERICHOST)[0]
        assert ipaddress.IPv6Address(host) == address


@given(st.ip_addresses(v=6), st.booleans())
@example(MAPPED, False)
def test_the_emulator_prints_any_ipv6_address_in_both_its_spellings(address, upper):
    compressed = emulated_ipv6.printed(str(address), upper=upper)
    written = emulated_ipv6.printed(str(address), upper=upper, compressed=False)
    assert ipaddress.IPv6Address(compressed) == ipaddress.IPv6Address(written) == address
    assert len(written.split(":")) == 8 and all(len(group) <= 4 for group in written.split(":"))
    assert compressed == (compressed.upper() if upper else compressed.lower())
    if address.ipv4_mapped is not None:  # the same text whichever Python runs the emulator
        assert compressed.lower() == f"::ffff:{address.ipv4_mapped}"


@given(st.integers(-2 ** 40, 2 ** 40), st.integers(-2 ** 40, 2 ** 40))
def test_only_scope_id_zero_and_a_20_bit_flowinfo_pass(flowinfo, scope):
    try:
        assert inet.destination(("::1", 80, flowinfo, scope), atsock.AF_INET6, "connect") == ("::1", 80)
    except OverflowError:
        assert not 0 <= flowinfo < 2 ** 20 or not 0 <= scope < 2 ** 32
    except OSError as exc:
        assert exc.args[0] == errno.EINVAL and scope != 0 and 0 <= flowinfo < 2 ** 20
    else:
        assert scope == 0 and 0 <= flowinfo < 2 ** 20


# --- end to end over ::1 ----------------------------------------------------------------------

def test_tcp_echo_over_ipv6_beside_ipv4(modem6, fake_modem6, dialect, echo6, echo_server):
    payload = os.urandom(5000)  # several QISEND/CIPSEND chunks
    sock = modem6.socket(atsock.AF_INET6)
    sock.settimeout(10)
    sock.connect(("::1", echo6.port, 7, 0))  # flowinfo means nothing to the module; it is accepted
    sock.sendall(payload)
    assert sock.read(len(payload)) == payload
    assert sock.getpeername() == ("::1", echo6.port, 0, 0)
    assert sock.getsockname()[0] == modem6.local_ipv6 and len(sock.getsockname()) == 4
    sock.close()
    expected = (f'AT+QIOPEN=1,0,"TCP","0:0:0:0:0:0:0:1",{echo6.port},0,0' if dialect == "quectel"
                else f'AT+CIPSTART=0,"TCPv6","::1",{echo6.port}')
    assert expected in fake_modem6.received_commands
    assert echo_over(modem6, atsock.AF_INET, "127.0.0.1", echo_server.port)  # the same modem, both families
    with pytest.raises(OSError) as info:
        modem6.socket().connect(("::1", echo6.port))
    assert info.value.args[0] == errno.EAFNOSUPPORT  # an AF_INET socket still refuses an IPv6 literal


def test_udp_over_ipv6_sendto_connect_and_bind(modem6, dialect, udp_echo6):
    sock = modem6.socket(atsock.AF_INET6, atsock.SOCK_DGRAM)
    sock.settimeout(10)
    for datagram in (b"one", b"\r\nOK\r\n", bytes(1000)):
        assert sock.sendto(datagram, ("::1", udp_echo6.port)) == len(datagram)
        assert sock.recvfrom(2000) == (datagram, ("::1", udp_echo6.port, 0, 0))
    sock.close()

    connected = modem6.socket(atsock.AF_INET6, atsock.SOCK_DGRAM)
    connected.settimeout(10)
    connected.connect(("::1", udp_echo6.port))
    connected.send(b"to my peer")
    assert connected.recv(100) == b"to my peer"
    assert connected.getpeername() == ("::1", udp_echo6.port, 0, 0)
    connected.close()

    with std_socket.socket(std_socket.AF_INET6, std_socket.SOCK_DGRAM) as probe:
        probe.bind(("::1", 0))
        port = probe.getsockname()[1]
    bound = modem6.socket(atsock.AF_INET6, atsock.SOCK_DGRAM)
    bound.settimeout(10)
    bound.bind(("::", port))
    with std_socket.socket(std_socket.AF_INET6, std_socket.SOCK_DGRAM) as client:
        client.bind(("::1", 0))
        client.sendto(b"ping", ("::1", port))
        data, sender = bound.recvfrom(100)
        assert (data, sender) == (b"ping", client.getsockname())
        bound.sendto(b"pong", sender)
        client.settimeout(10)
        assert client.recvfrom(100) == (b"pong", ("::1", port, 0, 0))
    bound.close()


def test_a_listener_on_ipv6_accepts_a_host_client(modem6, fake_modem6, dialect):
    with std_socket.socket(std_socket.AF_INET6) as probe:
        probe.bind(("::1", 0))
        port = probe.getsockname()[1]
    server = modem6.socket(atsock.AF_INET6)
    server.settimeout(10)
    server.bind(("::", port))
    if dialect == "esp8285":  # ESP8266 AT servers take no "TCPv6" type (ipv6.md §2)
        assert "IPv4 clients only" in refused(server.listen, errno.EOPNOTSUPP)
        server.close()
        return
    server.listen(1)
    assert f'AT+QIOPEN=1,0,"TCP LISTENER","0:0:0:0:0:0:0:1",0,{port},0' in fake_modem6.received_commands
    with std_socket.create_connection(("::1", port), timeout=10) as client:
        conn, address = server.accept()
        assert address == client.getsockname()
        assert conn.family == atsock.AF_INET6 and conn.getpeername() == address
        conn.settimeout(10)
        client.sendall(b"from the host")
        assert conn.read(13) == b"from the host"
        conn.sendall(b"from the modem")
        assert client.recv(100) == b"from the modem"
        conn.close()
    server.close()
    # QuecPython's own idiom: a server socket by protocol, accept() gives three values
    quec = atsock.quecpython.socket(atsock.AF_INET6, atsock.SOCK_STREAM, atsock.quecpython.IPPROTO_TCP_SER,
                                    modem=modem6)
    quec.bind(("::", port))
    quec.listen(1)
    with std_socket.create_connection(("::1", port), timeout=10) as client:
        conn, host, client_port = quec.accept()
        assert (host, client_port) == client.getsockname()[:2]
        conn.close()
    quec.close()


def test_getaddrinfo_gives_aaaa_answers_and_the_portable_idiom_connects(modem6, fake_modem6, dialect, echo6):
    first = atsock.getaddrinfo("v6.test", echo6.port)[0]
    assert first == (atsock.AF_INET6, atsock.SOCK_STREAM, atsock.IPPROTO_TCP, "", ("::1", echo6.port, 0, 0))
    ai = first
    sock = atsock.socket(ai[0], ai[1], ai[2])
    sock.settimeout(10)
    sock.connect(ai[-1])
    sock.sendall(b"portable")
    assert sock.read(8) == b"portable"
    sock.close()
    assert [entry[-1] for entry in atsock.getaddrinfo("dual.test", 80, atsock.AF_INET6)] == [("::1", 80, 0, 0)]
    assert atsock.getaddrinfo("dual.test", 80)[0][-1] == ("127.0.0.1", 80)  # IPv4 first, as the module answers
    assert echo_over(modem6, atsock.AF_INET6, "v6.test", echo6.port)  # a name on an AF_INET6 socket
    refused(lambda: modem6.socket().connect(("v6.test", echo6.port)), kind=std_socket.gaierror)
    refused(lambda: modem6.socket(atsock.AF_INET6).connect(("www.test", 80)), kind=std_socket.gaierror)
    if dialect == "esp8285":
        assert 'AT+CIPDOMAIN="dual.test",3' in fake_modem6.received_commands  # <ip network> 3: IPv6 only


@pytest.mark.parametrize("dialect, emulated, settings, why", [
    ("esp8285", {"firmware": "1.7"}, {"ipv6": True}, "NonOS AT 1.x, which has no IPv6"),
    ("esp8285", {}, {"ipv6": False}, "ipv6=True"),
    ("quectel", {}, {"ip_version": "ipv4"}, 'ip_version="ipv4v6"'),
    ("quectel", {"ipv4v6_context": False}, {}, "refused an IPv4v6 data context"),
    ("quectel", {"ipv6_network": False}, {}, "no IPv6 address"),
])
def test_eafnosupport_where_the_modem_has_no_ipv6(dialect, emulated, settings, why, echo_server):
    with emulator(dialect, **emulated) as fm, open_v6(fm, dialect, **settings) as modem:
        message = refused(lambda: modem.socket(atsock.AF_INET6), errno.EAFNOSUPPORT)
        assert why in message
        if dialect == "esp8285" and emulated:
            assert "1.7" in message and not any("CIPV6" in line for line in fm.received_commands)
        refused(lambda: modem.socket(atsock.AF_INET6, atsock.SOCK_DGRAM), errno.EAFNOSUPPORT)
        info = refused(lambda: modem.getaddrinfo("dual.test", 80, atsock.AF_INET6), kind=std_socket.gaierror)
        assert why in info
        assert [entry[0] for entry in modem.getaddrinfo("dual.test", 80)] == [atsock.AF_INET]
        refused(lambda: modem.getaddrinfo("v6.test", 80), kind=std_socket.gaierror)
        for host in ("::1", "::1%1", "2001:db8::1"):
            refused(lambda: modem.socket().connect((host, 80)), errno.EAFNOSUPPORT)
        assert echo_over(modem, atsock.AF_INET, "127.0.0.1", echo_server.port)  # IPv4 goes on
        if "ipv4v6_context" in emulated:  # type 3 refused: the module's IPv4 type instead
            commands = list(fm.received_commands)
            assert commands.index('AT+QICSGP=1,1,"internet","","",0') > commands.index('AT+QICSGP=1,3,"internet","","",0')


def test_an_ipv6_only_context_refuses_af_inet(echo6):
    with emulator("quectel") as fm, open_v6(fm, "quectel", ip_version="ipv6") as modem:
        assert 'AT+QICSGP=1,2,"internet","","",0' in fm.received_commands
        assert (modem.local_ip, modem.local_ipv6) == (None, "2001:db8:10::7")
        assert 'ip_version="ipv6"' in refused(lambda: modem.socket(), errno.EAFNOSUPPORT)
        assert echo_over(modem, atsock.AF_INET6, "::1", echo6.port)
        assert [entry[0] for entry in modem.getaddrinfo("dual.test", 80)] == [atsock.AF_INET6]


@pytest.mark.parametrize("dialect, emulated, settings", [
    ("quectel", {"ipv6_upper": False, "ipv6_compressed": False}, {}),  # addresses written out, lower-case
    ("esp8285", {"ipv6_got": "before_ok"}, {"receive": "active"}),     # +IPD with a quoted IPv6 sender
])
def test_other_print_forms_of_ipv6_addresses(dialect, emulated, settings, echo6, udp_echo6):
    with emulator(dialect, **emulated) as fm, open_v6(fm, dialect, **settings) as modem:
        assert modem.local_ipv6 == ("2001:db8:10::7" if dialect == "quectel" else "2001:db8:10:0:a6cf:12ff:fe00:1122")
        sock = modem.socket(atsock.AF_INET6, atsock.SOCK_DGRAM)
        sock.settimeout(10)
        sock.connect(("::1", udp_echo6.port))  # the module's spelling of the sender must match the peer
        sock.send(b"spelt out")
        assert sock.recvfrom(100) == (b"spelt out", ("::1", udp_echo6.port, 0, 0))
        sock.close()
        assert echo_over(modem, atsock.AF_INET6, "::1", echo6.port, 3000)


# --- hostile addresses: nothing reaches the module --------------------------------------------

def test_scope_ids_and_wrong_ipv6_addresses_never_reach_the_module(modem6, fake_modem6, echo6):
    port = echo6.port
    cases = [
        (("::1", port, 0, 1), OSError, errno.EINVAL),       # a scope id the module cannot use
        (("::1%1", port), OSError, errno.EINVAL),
        (("fe80::1%lo", port), OSError, errno.EINVAL),       # an interface name is a nonzero scope
        (("::1", port, 2 ** 20), OverflowError, None),       # flowinfo is 20 bits
        (("::1", port, -1), OverflowError, None),
        (("::1", port, 0, 2 ** 32), OverflowError, None),
        (("::1", port, 0, -1), OverflowError, None),         # (CPython would wrap it to 0xffffffff)
        (("::1", port, 0, "1"), TypeError, None),
        (("::1", port, 0, 0, 0), TypeError, None),
        (("::1",), TypeError, None),
        (("::1", 70000), OverflowError, None),
        (("127.0.0.1", port), OSError, errno.EAFNOSUPPORT),  # an IPv4 address on an AF_INET6 socket
        (("::ffff:127.0.0.1", port), OSError, errno.EAFNOSUPPORT),
    ] + [((host, port), ValueError, None) for host in SMUGGLING_HOSTS + ["::1%z\r\nAT+QIDEACT=1", "-x"]]
    before = len(fake_modem6.received_commands)
    for address, kind, code in cases:
        for call in (lambda: modem6.socket(atsock.AF_INET6).connect(address),
                     lambda: modem6.socket(atsock.AF_INET6, atsock.SOCK_DGRAM).sendto(b"x", address),
                     lambda: modem6.socket(atsock.AF_INET6).bind(address)):
            with pytest.raises(kind) as info:
                call()
            if code is not None:
                assert info.value.args[0] == code, (address, info.value)
    assert list(fake_modem6.received_commands)[before:] == []  # not one line reached the module
    # scope id 0, given as a number that formats itself as something else, or as "%0"
    assert echo_over(modem6, atsock.AF_INET6, "::1%0", port)
    with modem6.socket(atsock.AF_INET6) as sock:
        sock.settimeout(10)
        sock.connect(("::1", LyingInt(port), LyingInt(0), LyingInt(0)))
        sock.sendall(b"still fine")
        assert sock.read(10) == b"still fine"
    assert modem6.state == "online"


# --- the emulator alone, byte for byte (no atsock) ----------------------------------------------

def test_emulated_quectel_contexts_and_ipv6_literals(echo6):
    with emulator("quectel", ipv6_compressed=False) as fm, AtPort(fm.port) as at:
        at.read_until(rb"SMS DONE\r\n")
        at.command("ATE0")
        assert b"+QICSGP: (1-16),(1-3)," in at.command("AT+QICSGP=?")
        at.command('AT+QICSGP=1,3,"internet"')
        at.command("AT+QIACT=1")
        assert b'+QIACT: 1,1,3,"10.64.12.7","2001:DB8:10:0:0:0:0:7"' in at.command("AT+QIACT?")
        for sock_id, literal in ((0, "::1"), (1, "0:0:0:0:0:0:0:1"), (2, "0:0:0:0:0:0:0:1".upper())):
            at.command(f'AT+QIOPEN=1,{sock_id},"TCP","{literal}",{echo6.port},0,0')
            assert f"+QIOPEN: {sock_id},0".encode() in at.read_until(rb"\+QIOPEN: \d,\d+\r\n")
        assert b'"TCP","0:0:0:0:0:0:0:1"' in at.command("AT+QISTATE=1,0")
        at.command('AT+QICSGP=2,1,"internet"')
        at.command("AT+QIACT=2")
        at.command(f'AT+QIOPEN=2,4,"TCP","::1",{echo6.port},0,0')  # no IPv6 on an IPv4 context
        assert b"+QIOPEN: 4,566" in at.read_until(rb"\+QIOPEN: 4,\d+\r\n")
    with emulator("quectel", ipv4v6_context=False) as fm, AtPort(fm.port) as at:
        at.read_until(rb"SMS DONE\r\n")
        at.command("ATE0")
        assert at.command('AT+QICSGP=1,3,"internet"').endswith(b"ERROR\r\n")
        assert at.command('AT+QICSGP=1,2,"internet"').endswith(b"OK\r\n")


def test_emulated_esp_ipv6_on_2x_and_none_on_1x():
    with emulator("esp8285", firmware="1.7") as fm, AtPort(fm.port, b"\r\n") as at:
        at.sync()
        at.command("ATE0")
        assert at.command("AT+CIPV6=1").endswith(b"ERROR\r\n")
        at.command("AT+CIPMUX=1")
        at.command('AT+CWJAP="lab-net","s3cret\\,\\"pass\\\\"')
        assert b"Link type ERROR" in at.command('AT+CIPSTART=0,"TCPv6","::1",80')
        assert at.command('AT+CIPDOMAIN="v6.test",3').endswith(b"ERROR\r\n")
    with emulator("esp8285") as fm, AtPort(fm.port, b"\r\n") as at:
        at.sync()
        at.command("ATE0")
        at.command("AT+CIPMUX=1")
        at.command('AT+CWJAP="lab-net","s3cret\\,\\"pass\\\\"')  # joined before AT+CIPV6=1: no IPv6
        assert at.command('AT+CIPSTART=0,"TCPv6","::1",80').endswith(b"ERROR\r\n")
        assert b"+CIPV6:0" in at.command("AT+CIPV6?")
        at.command("AT+CIPV6=1")
        at.command('AT+CWJAP="lab-net","s3cret\\,\\"pass\\\\"')
        assert b"WIFI GOT IPv6 LL\r\nWIFI GOT IPv6 GL\r\n" in at.read_until(rb"GL\r\n")
        cifsr = at.command("AT+CIFSR")
        assert b'+CIFSR:STAIP6LL,"fe80::a6cf:12ff:fe00:1122"\r\n+CIFSR:STAIP6GL,' in cifsr
        assert b'+CIPSTA:ip6gl:"2001:db8:10::a6cf:12ff:fe00:1122"' in at.command("AT+CIPSTA?")
        assert b'+CIPDOMAIN:"::1"' in at.command('AT+CIPDOMAIN="dual.test",3')
        assert b'+CIPDOMAIN:"127.0.0.1"' in at.command('AT+CIPDOMAIN="dual.test",1')
        assert at.command('AT+CIPDOMAIN="v6.test",2').endswith(b"ERROR\r\n")
        assert at.command('AT+CIPSERVER=1,8080,"TCPv6"').endswith(b"ERROR\r\n")


def test_the_demo_fetches_its_page_over_ipv6():
    root = Path(__file__).resolve().parent.parent
    result = subprocess.run([sys.executable, str(root / "examples" / "http_get.py"), "--ipv6"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert "<h1>Hello through the modem</h1>" in result.stdout
    assert "AT+QIOPEN x1" in result.stdout
