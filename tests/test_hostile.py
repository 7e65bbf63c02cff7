"""Hostile input. From the caller: strings that could end an AT string or command early are
refused with ValueError before a byte is written. From the modem: absurd lengths, truncated
payloads, unknown URCs and noise cost at most the socket concerned, never the reader or the modem."""
import errno
import socket as std_socket
import threading
import time

import pytest

import atsock

from fakemodem import FakeModem

from .conftest import emulator_options, modem_settings

BAD = ['a"b', "a\rb", "a\nb", "a\x00b", "a\x1bb", "\x7f", "caf\u00e9", "x" * 300]


def test_hostnames_are_checked_on_every_path(modem, fake_modem, dialect):
    before = len(fake_modem.received_commands)
    for bad in BAD + ["bad host", "-leading.dash", "a..b"]:
        refused = TypeError if "\x00" in bad else ValueError  # a NUL in an address: TypeError, as in CPython
        with pytest.raises(ValueError):
            atsock.getaddrinfo(bad, 80)
        with pytest.raises(refused):
            atsock.socket().connect((bad, 80))
        with pytest.raises(refused):
            atsock.socket(atsock.AF_INET, atsock.SOCK_DGRAM).sendto(b"x", (bad, 80))
    commands = list(fake_modem.received_commands)[before:]
    assert not any("QIDNSGIP" in c or "CIPDOMAIN" in c or "QIOPEN" in c or "CIPSTART" in c for c in commands)


@pytest.mark.parametrize("field", ["apn", "user", "password", "pin"])
def test_quectel_settings_are_checked_before_the_port_is_touched(quectel_fake_modem, field):
    for bad in BAD:
        with pytest.raises(ValueError):
            atsock.open_modem(quectel_fake_modem.port, dialect="quectel", **{"apn": "internet", field: bad})
    assert list(quectel_fake_modem.received_commands) == []


def test_wifi_credentials_are_escaped_or_refused():
    dialect = "esp8285"
    with FakeModem(dialect, **emulator_options(dialect)) as fake_modem:
        for field in ("ssid", "key"):
            for bad in ("a\rb", "a\nb", "a\x00b", "caf\u00e9", "x" * 100):
                with pytest.raises(ValueError):
                    atsock.open_modem(fake_modem.port, dialect=dialect, **dict(modem_settings(dialect), **{field: bad}))
        assert list(fake_modem.received_commands) == []
        # quotes, commas and backslashes are legal in Wi-Fi names and keys: escaped, not refused
        with atsock.open_modem(fake_modem.port, dialect=dialect, **modem_settings(dialect)) as modem:
            assert modem.state == "online"


def echo(modem, port, data=b"still fine"):
    sock = modem.socket()
    sock.settimeout(10)
    sock.connect(("127.0.0.1", port))
    sock.write(data)
    got = sock.read(len(data))
    sock.close()
    return got == data


@pytest.mark.parametrize("how", ["absurd", "truncated"])
def test_a_wrongly_framed_payload_fails_that_socket_only(modem, fake_modem, echo_server, how):
    victim = modem.socket()
    victim.settimeout(15)
    victim.connect(("127.0.0.1", echo_server.port))
    fake_modem.corrupt_next_read(how)
    victim.write(b"this reply is framed wrongly")
    with pytest.raises(OSError) as info:
        victim.read(28)
    # refused at once (EPROTO), or a payload that stops half-way: whichever of the frame's idle
    # timer (EPROTO) and the read command's own budget (ETIMEDOUT) runs out first
    assert info.value.args[0] in ((errno.EPROTO,) if how == "absurd" else (errno.EPROTO, errno.ETIMEDOUT))
    if how == "absurd":
        assert modem.stats["protocol_errors"] >= 1
    assert modem.state == "online"
    assert echo(modem, echo_server.port)  # the channel is back in step
    victim.close()


def test_unknown_urcs_noise_and_an_endless_line_are_survived(modem, fake_modem, echo_server):
    sock = modem.socket()
    sock.settimeout(10)
    sock.connect(("127.0.0.1", echo_server.port))
    fake_modem.inject(b"\r\n+WHATEVER: 1,2,3\r\n\r\nUNHEARD OF\r\n\x00\xff\xfe\x80 binary \x01\r\n")
    fake_modem.inject(b"\r\n" + b"N" * 5000 + b"\r\n")  # longer than any line may be
    time.sleep(0.2)
    sock.write(b"after the noise")
    assert sock.read(15) == b"after the noise"
    assert modem.state == "online"
    sock.close()
    assert echo(modem, echo_server.port)


# --- second round: scope ids, lying ports, arguments CPython refuses ----------------------------

SMUGGLING_HOSTS = ['::1%z"\rAT+QIDEACT=1\r', "::1%z\r\nAT+CWQAP\r\n", '::1%z",80\rAT+GMR\r', "::1%" + "x" * 40]


class LyingInt(int):
    """A port whose text would end the command line and start another."""

    def __format__(self, spec):
        return "80\rAT+GMR\r"

    __str__ = __repr__ = lambda self: "80\rAT+GMR\r"


def test_an_ipv6_scope_id_cannot_carry_a_command(modem, fake_modem, echo_server):
    before = len(fake_modem.received_commands)
    for host in SMUGGLING_HOSTS:
        with pytest.raises(ValueError):
            modem.socket().connect((host, echo_server.port))
        with pytest.raises(ValueError):
            modem.socket(atsock.AF_INET, atsock.SOCK_DGRAM).sendto(b"x", (host, echo_server.port))
        with pytest.raises(ValueError):
            modem.getaddrinfo(host, 80)
    for host in ("::1", "::1%1", "fe80::1%lo"):  # an IPv6 address: no AF_INET socket reaches it
        for call in (lambda s: s.connect((host, 80)), lambda s: s.bind((host, 80))):
            with pytest.raises(OSError) as info:
                call(modem.socket())
            assert info.value.args[0] == errno.EAFNOSUPPORT
        with pytest.raises(OSError) as info:
            modem.socket(atsock.AF_INET, atsock.SOCK_DGRAM).sendto(b"x", (host, 80))
        assert info.value.args[0] == errno.EAFNOSUPPORT
    assert list(fake_modem.received_commands)[before:] == []  # not one line reached the module
    assert modem.state == "online"
    assert echo(modem, echo_server.port)


def test_scope_ids_are_an_interface_number_or_name():
    from atsock.core import validate
    assert validate.ip_literal("fe80::1%eth0") == "fe80::1%eth0"
    assert validate.ip_literal("fe80::1%7") == "fe80::1%7"
    for bad in ("::1%", "::1%z\"", "::1%a b", "::1%-x", "::1%" + "x" * 16, "::1%99999999999", "::1%4294967296",
                "127.0.0.1%1", "::1%z\r\nAT"):
        assert validate.ip_literal(bad) is None, bad
    with pytest.raises(ValueError):
        validate.hostname("::1%z\r\nAT")


def test_getaddrinfo_gives_a_scope_as_cpython_does(modem):
    assert modem.getaddrinfo("fe80::1%3", 80)[0][-1] == ("fe80::1", 80, 0, 3)
    assert modem.getaddrinfo("fe80::1%lo", 80)[0][-1] == ("fe80::1", 80, 0, std_socket.if_nametoindex("lo"))
    with pytest.raises(std_socket.gaierror):
        modem.getaddrinfo("fe80::1%nosuchif0", 80)
    port = modem.getaddrinfo("127.0.0.1", LyingInt(80))[0][-1][1]
    assert type(port) is int and port == 80


def test_a_port_that_formats_itself_reaches_the_module_as_digits(modem, fake_modem, echo_server, udp_echo):
    before = len(fake_modem.received_commands)
    sock = modem.socket()
    sock.settimeout(10)
    sock.connect(("127.0.0.1", LyingInt(echo_server.port)))
    sock.sendall(b"ping")
    assert sock.read(4) == b"ping"
    sock.close()
    udp = modem.socket(atsock.AF_INET, atsock.SOCK_DGRAM)
    udp.settimeout(10)
    udp.sendto(b"datagram", ("127.0.0.1", LyingInt(udp_echo.port)))
    assert udp.recvfrom(100) == (b"datagram", ("127.0.0.1", udp_echo.port))
    udp.close()
    sent = list(fake_modem.received_commands)[before:]
    assert not [line for line in sent if "GMR" in line or "\r" in line]
    assert any(str(echo_server.port) in line for line in sent)
    assert modem.state == "online"


class NoTruth:
    """Neither an integer nor a truth value: refused as setblocking()'s flag by CPython 3.11 for its
    type, and from 3.12 on (which takes any object's truth) with what ``__bool__`` raises."""

    def __bool__(self):
        raise ValueError("no truth value")


# (call, arguments): each refused by every CPython atsock supports; atsock must raise the same
# type, send nothing (what one version refuses and another takes, the differential test covers)
REFUSED = [("send", (5,)), ("send", ([1, 2],)), ("send", (None,)), ("sendall", (7,)), ("recv", (-1,)),
           ("recv", (1.5,)), ("recv", (None,)), ("recv", ("10",)), ("recv", (2 ** 70,)), ("recv", (1, 2 ** 40)),
           ("settimeout", (float("nan"),)), ("settimeout", (-1,)), ("settimeout", (float("inf"),)),
           ("settimeout", ("1",)), ("setblocking", (NoTruth(),)),
           ("recv_into", (b"read-only",)), ("recv_into", (bytearray(4), 10)), ("recv_into", (bytearray(4), -1)),
           ("setsockopt", (atsock.SOL_SOCKET, atsock.SO_KEEPALIVE, None)), ("getsockopt", (1, 2, 5000)),
           ("sendto", (b"x", ("127.0.0.1", 70000))), ("sendto", (b"x", ("127.0.0.1",))), ("listen", (None,)),
           ("connect", (("127.0.0.1", "80"),)), ("connect", (("127.0.0.1\0", 80),))]


def test_arguments_cpython_refuses_are_refused_alike(modem, fake_modem, echo_server):
    sock = modem.socket()
    sock.settimeout(10)
    sock.connect(("127.0.0.1", echo_server.port))
    reference = std_socket.create_connection(("127.0.0.1", echo_server.port))
    before = len(fake_modem.received_commands)
    for method, args in REFUSED:
        with pytest.raises(Exception) as expected:
            getattr(reference, method)(*args)
        with pytest.raises(type(expected.value)):
            getattr(sock, method)(*args)
    assert list(fake_modem.received_commands)[before:] == []
    sock.write(b"still in step")
    assert sock.read(13) == b"still in step"
    reference.close()
    sock.close()


def test_socket_constructor_arguments_are_integers(modem):
    for args in [("2",), (atsock.AF_INET, None), (atsock.AF_INET, atsock.SOCK_STREAM, 1.5)]:
        with pytest.raises(TypeError):
            std_socket.socket(*args)
        with pytest.raises(TypeError):
            modem.socket(*args)
    with pytest.raises(OverflowError):
        modem.socket(2 ** 40)


def test_recv_of_nothing_returns_at_once_and_the_timeout_keeps_its_value(modem, echo_server):
    sock = modem.socket()
    sock.settimeout(30)  # recv(0) waiting for data would end in ETIMEDOUT, not b""
    sock.connect(("127.0.0.1", echo_server.port))
    assert sock.recv(0) == b""
    with pytest.raises(ValueError):
        sock.settimeout(float("nan"))
    sock.settimeout(1e-12)
    assert sock.gettimeout() == 1e-09  # rounded as CPython rounds it, never to 0 (non-blocking)
    sock.close()
    assert sock.recv(0) == b""  # even closed, as in CPython
    with pytest.raises(OSError) as info:
        sock.recv(1)
    assert info.value.args[0] == errno.EBADF


# --- a resolver that answers nonsense -----------------------------------------------------------

def test_a_dns_answer_that_is_no_address_fails_the_lookup_at_once(dialect):
    """(The lookup would otherwise wait for an address that never comes, then ETIMEDOUT.)"""
    options = dict(emulator_options(dialect))
    options["hosts"] = dict(options["hosts"], **{"bad.test": "notanip"})
    with FakeModem(dialect, **options) as fm:
        with atsock.open_modem(fm.port, dialect=dialect, **modem_settings(dialect)) as modem:
            with pytest.raises(std_socket.gaierror) as info:
                modem.getaddrinfo("bad.test", 80)
            assert info.value.args[0] == std_socket.EAI_FAIL and "notanip" in str(info.value)
            with pytest.raises(std_socket.gaierror) as info:
                modem.socket().connect(("bad.test", 80))
            assert info.value.args[0] == std_socket.EAI_FAIL
            with pytest.raises(std_socket.gaierror) as info:
                modem.getaddrinfo("unknown.test", 80)
            assert info.value.args[0] == std_socket.EAI_NONAME  # an unknown name is still just that
            assert modem.getaddrinfo("echo.test", 80)[0][-1] == ("127.0.0.1", 80)
            assert modem.state == "online"


@pytest.mark.parametrize("answer", [b'+QIURC: "dnsgip",0,1,600\r\n+QIURC: "dnsgip","1.2.3"\r\n',
                                    b'+QIURC: "dnsgip",0,2,600\r\n+QIURC: "dnsgip","127.0.0.1"\r\n'
                                    b'+QIURC: "dnsgip",OK\r\n',
                                    b'+QIURC: "dnsgip",zero,1,600\r\n',
                                    b'+QIURC: "dnsgip",0,many,600\r\n'])
def test_quectel_dnsgip_garbage_fails_the_lookup_at_once(answer):
    options = dict(emulator_options("quectel"), dns_delay=120)  # its own answer comes too late to matter
    with FakeModem("quectel", **options) as fm:
        with atsock.open_modem(fm.port, dialect="quectel", apn="internet") as modem:
            outcome = {}

            def look_up():
                try:
                    outcome["result"] = modem.getaddrinfo("echo.test", 80)
                except OSError as exc:
                    outcome["error"] = exc

            lookup = threading.Thread(target=look_up)
            lookup.start()
            for _ in range(500):
                if any(c.startswith("AT+QIDNSGIP") for c in fm.received_commands):
                    break
                time.sleep(0.01)
            fm.inject(b"\r\n" + answer)
            lookup.join(90)
            error = outcome.get("error")
            assert isinstance(error, std_socket.gaierror) and error.args[0] == std_socket.EAI_FAIL, outcome
            assert modem.state == "online"


# --- third round --------------------------------------------------------------------------------

def test_socks_refuses_an_empty_domain(fake_modem, dialect, echo_server):
    """getaddrinfo("") names no host (CPython: gaierror); the proxy used to relay it to 127.0.0.1."""
    from .test_cli_proxy import socks_connect, socks_server
    with socks_server(fake_modem, dialect) as proxy:
        code, sock = socks_connect(proxy, "", echo_server.port)
        sock.close()
        assert code == 4  # host unreachable
        code, sock = socks_connect(proxy, "echo.test", echo_server.port)
        sock.sendall(b"ping")
        assert code == 0 and sock.makefile("rb").read(4) == b"ping"
        sock.close()
    with pytest.raises(std_socket.gaierror) as info:
        atsock.getaddrinfo("", 80)
    assert info.value.args[0] == std_socket.EAI_NONAME


def test_a_udp_port_the_module_cannot_take_is_eaddrinuse(modem):
    """(The emulator binds the module's local port on this host: one in use here is one in use there.
    ESP-AT says only ERROR; it was ECONNREFUSED, so a randomly chosen port in use was not tried again.)"""
    with std_socket.socket(std_socket.AF_INET, std_socket.SOCK_DGRAM) as taken:
        taken.bind(("127.0.0.1", 0))
        sock = modem.socket(atsock.AF_INET, atsock.SOCK_DGRAM)
        with pytest.raises(OSError) as info:
            sock.bind(("0.0.0.0", taken.getsockname()[1]))
        assert info.value.errno == errno.EADDRINUSE
        sock.close()
