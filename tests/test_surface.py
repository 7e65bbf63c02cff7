"""The rest of the usocket surface: streams, addresses, options, capacity, the QuecPython flavour."""
import errno
import socket as std_socket
import sys

import pytest

import atsock

from .conftest import open_ids
import atsock.quecpython as qsocket


def test_makefile_and_every_write_form(modem, echo_server):
    sock = atsock.socket()
    sock.connect(("127.0.0.1", echo_server.port))
    stream = sock.makefile("rwb")
    assert stream.write(b"0123456789", 4) == 4            # write(buf, max_len)
    assert stream.write(b"0123456789", 6, 2) == 2         # write(buf, off, max_len)
    assert stream.write("text\n") == 5                    # str, as MicroPython accepts
    assert sock.send("s") == 1
    assert stream.read(12) == b"012367text\ns"
    stream.close()                                        # closing the file closes the socket
    with pytest.raises(OSError) as info:
        sock.send(b"x")
    assert info.value.args[0] == errno.EBADF


def test_getaddrinfo_filters(modem):
    assert atsock.getaddrinfo("www.test", 80, 0, atsock.SOCK_DGRAM) == [
        (atsock.AF_INET, atsock.SOCK_DGRAM, atsock.IPPROTO_UDP, "", ("127.0.0.1", 80))]
    assert atsock.getaddrinfo("www.test", 80, proto=atsock.IPPROTO_UDP)[0][1] == atsock.SOCK_DGRAM
    assert atsock.getaddrinfo("www.test", "80", flags=atsock.AI_CANONNAME)[0][3] == "www.test"
    assert atsock.getaddrinfo(None, 80, flags=atsock.AI_PASSIVE)[0][-1] == ("0.0.0.0", 80)
    assert atsock.getaddrinfo("::1", 80)[0][0] == atsock.AF_INET6
    for args, code in [(("www.test", 80, 99), std_socket.EAI_FAMILY),
                       (("www.test", 80, 0, atsock.SOCK_STREAM, atsock.IPPROTO_UDP), std_socket.EAI_SOCKTYPE),
                       (("www.test", 80, 0, 0, 0, atsock.AI_NUMERICHOST), std_socket.EAI_NONAME),
                       (("127.0.0.1", 80, atsock.AF_INET6), std_socket.EAI_ADDRFAMILY)]:
        with pytest.raises(std_socket.gaierror) as info:
            atsock.getaddrinfo(*args)
        assert info.value.args[0] == code


def outcome(call, *args):
    try:
        return "value", call(*args)
    except Exception as exc:  # what it raises is what is compared
        return "raised", type(exc)


PACKED = [b"\xc0\x00\x02\x01", bytearray(4), memoryview(b"1234"), b"\x01\x02", b"", b"x" * 5, b"\x00" * 16,
          b"\x00" * 15, "abcd", None, [1, 2, 3, 4], 1234]
TEXTS = ["192.0.2.1", "300.1.1.1", "1.2.3", "::1", "2001:db8::1", "::1%1", "", "x", b"1.2.3.4", None, 5]


@pytest.mark.parametrize("family", [std_socket.AF_INET, std_socket.AF_INET6, 99, "2"])
def test_inet_pton_ntop_answer_and_refuse_as_cpython(family):
    for packed in PACKED:
        assert outcome(atsock.inet_ntop, family, packed) == outcome(std_socket.inet_ntop, family, packed), packed
    for text in TEXTS:
        mine, theirs = outcome(atsock.inet_pton, family, text), outcome(std_socket.inet_pton, family, text)
        assert mine == theirs, text
        if theirs == ("raised", OSError):  # with an errno: MicroPython's EINVAL where CPython gives none
            with pytest.raises(OSError) as info:
                atsock.inet_pton(family, text)
            assert info.value.errno is not None
    assert atsock.inet_ntop(atsock.AF_INET6, atsock.inet_pton(atsock.AF_INET6, "2001:db8::1")) == "2001:db8::1"


# (IPv4-mapped and -compatible IPv6 spelt as the C library spells them: Python's ipaddress writes
# them its own way, and a mapped one another way from 3.13 on)
@pytest.mark.parametrize("host", ["", b"", None, "127.0.0.1", "0.0.0.0", "::1", "fe80::1%1", "2001:DB8::1",
                                  "::ffff:192.0.2.1", "::FFFF:C000:201", "::ffff:0:0", "::192.0.2.1"])
@pytest.mark.parametrize("flags", [0, std_socket.AI_PASSIVE, std_socket.AI_NUMERICHOST])
def test_getaddrinfo_of_no_name_and_of_literals_as_cpython(host, flags):
    """Literals and the absence of a name need no name service: CPython's verdict is compared (an
    empty name is EAI_NONAME there, None this host)."""
    expected = outcome(std_socket.getaddrinfo, host, 80, 0, std_socket.SOCK_STREAM, 0, flags)
    got = outcome(atsock.getaddrinfo, host, 80, 0, std_socket.SOCK_STREAM, 0, flags)
    if expected[0] == "raised":
        assert got == expected
    else:
        assert got[0] == "value" and set(got[1]) <= set(expected[1])


def test_keepalive_option_reaches_the_modem_and_unknown_options_are_refused(modem, fake_modem, dialect,
                                                                           echo_server):
    sock = atsock.socket()
    sock.setsockopt(atsock.SOL_SOCKET, atsock.SO_REUSEADDR, 1)
    sock.setsockopt(atsock.SOL_SOCKET, atsock.TCP_KEEPALIVE, 3)
    sock.connect(("127.0.0.1", echo_server.port))
    expected = ('AT+QICFG="tcp/keepalive",1,3,25,3' if dialect == "quectel"
                else f'AT+CIPSTART=0,"TCP","127.0.0.1",{echo_server.port},180')
    assert expected in fake_modem.received_commands

    def host_socket_keepalive():
        raw = fake_modem.module.host_socket(sock._conn.id)
        return (raw.getsockopt(std_socket.SOL_SOCKET, std_socket.SO_KEEPALIVE),
                raw.getsockopt(std_socket.IPPROTO_TCP, std_socket.TCP_KEEPIDLE))

    assert fake_modem.call(host_socket_keepalive) == (1, 180)  # 3 minutes on the real host socket
    assert sock.getsockopt(atsock.SOL_SOCKET, atsock.SO_REUSEADDR) == 1
    with pytest.raises(OSError) as info:
        sock.setsockopt(atsock.SOL_SOCKET, std_socket.SO_BROADCAST, 1)
    assert info.value.args[0] == errno.ENOPROTOOPT
    # asyncio sets TCP_NODELAY on every TCP socket it is given: kept and reported, nothing sent
    commands = len(fake_modem.received_commands)
    sock.setsockopt(atsock.IPPROTO_TCP, atsock.TCP_NODELAY, 1)
    assert sock.getsockopt(atsock.IPPROTO_TCP, atsock.TCP_NODELAY) == 1
    assert len(fake_modem.received_commands) == commands
    with pytest.raises(OSError):
        sock.setsockopt(atsock.SOL_SOCKET, atsock.TCP_KEEPALIVE, 500)
    sock.close()


def test_unsupported_families_and_types_are_refused(modem):
    for args, code in [((atsock.AF_INET6,), errno.EAFNOSUPPORT),
                       ((atsock.AF_INET, atsock.SOCK_RAW), errno.EPROTONOSUPPORT),
                       ((atsock.AF_INET, atsock.SOCK_STREAM, atsock.IPPROTO_UDP), errno.EPROTONOSUPPORT)]:
        with pytest.raises(OSError) as info:
            atsock.socket(*args)
        assert info.value.args[0] == code


def test_every_link_busy_with_mixed_sockets_then_one_more_fails_then_reuse(modem, fake_modem, dialect,
                                                                          echo_server, udp_echo):
    """12 on Quectel (listeners hold a connectID), 5 on ESP-AT (plus its one server, which holds none)."""
    sockets = []
    kinds = [0, 1, 2] * 4 if dialect == "quectel" else [0, 1, 0, 1, 0, 2]
    for index, kind in enumerate(kinds):
        if kind == 0:
            sock = atsock.socket()
            sock.connect(("127.0.0.1", echo_server.port))
        elif kind == 1:
            sock = atsock.socket(atsock.AF_INET, atsock.SOCK_DGRAM)
            sock.sendto(b"u%d" % index, ("127.0.0.1", udp_echo.port))
        else:
            sock = atsock.socket()
            sock.bind(("", 0))
            sock.listen(1)
        sockets.append(sock)
    assert open_ids(fake_modem) == list(range(modem.max_sockets))
    thirteenth = atsock.socket()
    with pytest.raises(OSError) as info:
        thirteenth.connect(("127.0.0.1", echo_server.port))
    assert info.value.args[0] == errno.EMFILE
    for index, (kind, sock) in enumerate(zip(kinds, sockets)):
        if kind == 0:
            sock.write(b"t%d" % index)
            assert sock.read(len(b"t%d" % index)) == b"t%d" % index
        elif kind == 1:
            sock.settimeout(5)
            assert sock.recv(10) == b"u%d" % index
    sockets.pop(1).close()  # a UDP one frees its id
    thirteenth.connect(("127.0.0.1", echo_server.port))
    thirteenth.write(b"reused")
    assert thirteenth.read(6) == b"reused"
    for sock in sockets + [thirteenth]:
        sock.close()
    assert open_ids(fake_modem) == []


def test_quecpython_flavour(quectel_modem, echo_server):
    server = qsocket.socket(qsocket.AF_INET, qsocket.SOCK_STREAM, qsocket.IPPROTO_TCP_SER)
    server.bind(("0.0.0.0", 0))
    server.listen(2)
    assert server.getsocketsta() == qsocket.LISTEN
    port = server.getsockname()[1]
    client = std_socket.create_connection(("127.0.0.1", port))
    server.settimeout(5)
    conn, address, peer_port = server.accept()
    assert (address, peer_port) == client.getsockname()
    assert conn.getsocketsta() == qsocket.ESTABLISHED
    client.close()
    conn.settimeout(5)
    assert conn.recv(10) == b""
    assert conn.getsocketsta() == qsocket.CLOSE_WAIT
    conn.close()
    assert conn.getsocketsta() == -1

    with std_socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        fixed_port = probe.getsockname()[1]
    custom = qsocket.socket(qsocket.AF_INET, qsocket.SOCK_STREAM, qsocket.TCP_CUSTOMIZE_PORT)
    custom.bind(("", fixed_port))
    assert custom.getsocketsta() == qsocket.CLOSED
    custom.connect(("127.0.0.1", echo_server.port))
    assert custom.getsocketsta() == qsocket.ESTABLISHED
    custom.write(b"fixed port")
    assert custom.read(10) == b"fixed port"
    custom.close()
    server.close()


def test_install_makes_micropython_names_resolve_to_atsock(monkeypatch):
    for name in ("usocket", "uselect", "ustruct", "ubinascii", "socket", "select"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    monkeypatch.setitem(sys.modules, "socket", std_socket)
    atsock.install()
    import usocket
    import uselect
    import ustruct
    assert usocket is atsock and uselect is atsock.select
    assert ustruct.pack("!H", 1) == b"\x00\x01"
    assert sys.modules["socket"] is std_socket  # standard names only when asked
    atsock.install(standard_names=True)  # CPython's surface, served by the modem, for ordinary libraries
    assert sys.modules["socket"] is atsock.standard.socket and sys.modules["select"] is atsock.standard.select
    assert sys.modules["ssl"] is atsock.standard.ssl and sys.modules["asyncio"] is atsock.asyncio
