"""CPython's ``socket``, ``select`` and ``ssl`` as :mod:`atsock.standard` serves them: every name of
CPython's modules is there (compared with the running CPython's own), and the socket object's file
surface, lookups and refusals behave as CPython's, through the emulator to real peers. The
libraries that rely on them run in tests/test_inprocess_clients.py."""
import errno
import os
import select as std_select
import socket as std_socket
import ssl as std_ssl
import types

import pytest

import atsock
from atsock import ssl as micropython_ssl
from atsock.standard import select as modem_select
from atsock.standard import socket as modem_socket
from atsock.standard import ssl as modem_ssl
from fakemodem import FakeModem

from .conftest import HOSTS


def public_names(module):
    return {name for name in dir(module)
            if not name.startswith("_") and not isinstance(getattr(module, name), types.ModuleType)}


@pytest.mark.parametrize("cpython, stand_in", [(std_socket, modem_socket), (std_select, modem_select),
                                               (std_ssl, modem_ssl)], ids=["socket", "select", "ssl"])
def test_every_public_name_of_cpythons_module_is_there(cpython, stand_in):
    assert public_names(cpython) - set(dir(stand_in)) == set()


def test_the_private_names_libraries_use_are_there():
    assert modem_socket._GLOBAL_DEFAULT_TIMEOUT is std_socket._GLOBAL_DEFAULT_TIMEOUT  # http.client compares it
    for name in ("_create_default_https_context", "_create_unverified_context", "_create_stdlib_context"):
        assert isinstance(getattr(modem_ssl, name)(), modem_ssl.SSLContext), name


def test_each_function_of_cpythons_socket_is_the_modems_or_known_to_stay_on_the_host():
    callables = {name for name in public_names(std_socket) if callable(getattr(std_socket, name))
                 and not (isinstance(getattr(std_socket, name), type)
                          and issubclass(getattr(std_socket, name), (BaseException, int)))}
    assert callables - modem_socket.MODEM - modem_socket.LOCAL == set()
    assert all(getattr(modem_socket, name) is getattr(std_socket, name) for name in modem_socket.LOCAL
               if hasattr(std_socket, name))
    assert not any(getattr(modem_socket, name) is getattr(std_socket, name, None) for name in modem_socket.MODEM)


def test_the_socket_object_has_every_public_attribute_of_cpythons(modem):
    with std_socket.socket() as host, modem_socket.socket() as ours:
        assert public_names(host) - set(dir(ours)) == set()


# --- the socket object through the modem ------------------------------------------------------------
def connected(modem, echo_server):
    sock = modem_socket.create_connection(("echo.test", echo_server.port), timeout=10)
    assert sock.family is std_socket.AF_INET and sock.type is std_socket.SOCK_STREAM and sock.getblocking()
    return sock


def test_makefile_gives_cpythons_buffered_files(modem, echo_server):
    sock = connected(modem, echo_server)
    binary = sock.makefile("rwb")
    binary.write(b"line one\nline two\n")
    binary.flush()
    assert binary.readline() == b"line one\n"
    assert binary.readline(4) == b"line"  # http.client reads its status line this way
    assert binary.readline() == b" two\n"
    text = sock.makefile("rw", encoding="utf-8", newline="")
    text.write("grüße\r\n")
    text.flush()
    assert text.readline() == "grüße\r\n"
    sock.close()  # as http.client does while its response still reads: the files keep the connection
    binary.write(b"after close\n")
    binary.flush()
    assert binary.readline() == b"after close\n"
    binary.close()
    assert sock.fileno() != -1
    text.close()
    assert sock.fileno() == -1
    with pytest.raises(OSError) as info:
        sock.send(b"x")
    assert info.value.errno == errno.EBADF


def test_unbuffered_makefile_is_socketio(modem, echo_server):
    sock = connected(modem, echo_server)
    raw = sock.makefile("rwb", buffering=0)
    assert isinstance(raw, std_socket.SocketIO)
    with pytest.raises(ValueError):
        sock.makefile("r", buffering=0)  # CPython: unbuffered streams must be binary
    assert raw.write(b"ping") == 4 and raw.read(4) == b"ping"
    raw.close()
    sock.close()


def test_sendfile_sends_a_file_through_send(modem, echo_server, tmp_path):
    payload = os.urandom(100_000)
    (tmp_path / "blob").write_bytes(payload)
    sock = connected(modem, echo_server)
    reader = sock.makefile("rb")
    with open(tmp_path / "blob", "rb") as file:
        assert sock.sendfile(file, offset=1000, count=50_000) == 50_000
        assert file.tell() == 51_000
    assert reader.read(50_000) == payload[1000:51_000]
    reader.close()
    sock.close()


def test_dup_shares_the_connection_until_the_last_close(modem, fake_modem, echo_server):
    sock = connected(modem, echo_server)
    twin = sock.dup()
    assert twin.gettimeout() == 10
    sock.close()
    twin.sendall(b"still open")
    assert twin.recv(100) == b"still open"
    twin.close()
    assert all(not ids for ids in [fake_modem.call(fake_modem.module.open_ids)])


def test_shutdown_ends_both_directions_or_says_why_not(modem, echo_server):
    sock = connected(modem, echo_server)
    for how in (std_socket.SHUT_RD, std_socket.SHUT_WR):
        with pytest.raises(OSError) as info:
            sock.shutdown(how)
        assert info.value.errno == errno.EOPNOTSUPP and "both" in str(info.value)
    with pytest.raises(OSError) as info:
        sock.shutdown(7)
    assert info.value.errno == errno.EINVAL
    sock.shutdown(std_socket.SHUT_RDWR)
    with pytest.raises(OSError) as info:
        sock.recv(1)
    assert info.value.errno == errno.EBADF
    sock.close()


def test_what_a_modem_socket_cannot_do_fails_with_the_reason(modem):
    sock = modem_socket.socket()
    for call in (sock.detach, lambda: sock.set_inheritable(True), lambda: sock.sendmsg_afalg([b"x"]),
                 lambda: modem_socket.socket(fileno=3), lambda: modem_socket.fromfd(3, std_socket.AF_INET, 1)):
        with pytest.raises(OSError) as info:
            call()
        assert info.value.errno == errno.EOPNOTSUPP and info.value.strerror
    assert sock.get_inheritable() is False
    with pytest.raises(ValueError, match="dualstack"):
        modem_socket.create_server(("", 0), family=std_socket.AF_INET6, dualstack_ipv6=True)
    assert modem_socket.has_dualstack_ipv6() is False
    sock.close()


def test_unix_sockets_and_pairs_stay_on_the_host():
    local = modem_socket.socket(std_socket.AF_UNIX, std_socket.SOCK_STREAM)
    assert isinstance(local, std_socket.socket)
    local.close()
    left, right = modem_socket.socketpair()
    left.sendall(b"local")
    assert right.recv(5) == b"local"
    left.close()
    right.close()


def test_default_timeout_and_non_blocking_type_flag(modem):
    modem_socket.setdefaulttimeout(4.5)
    try:
        assert modem_socket.getdefaulttimeout() == 4.5 and modem_socket.socket().gettimeout() == 4.5
        assert std_socket.getdefaulttimeout() is None  # the host's default is its own
    finally:
        modem_socket.setdefaulttimeout(None)
    quick = modem_socket.socket(std_socket.AF_INET, std_socket.SOCK_STREAM | std_socket.SOCK_NONBLOCK)
    assert quick.type is std_socket.SOCK_STREAM and quick.gettimeout() == 0.0 and not quick.getblocking()


def test_lookups_go_to_the_modem(modem, fake_modem):
    before = len(fake_modem.received_commands)
    assert modem_socket.gethostbyname("www.test") == "127.0.0.1"
    assert modem_socket.gethostbyname_ex("www.test") == ("www.test", [], ["127.0.0.1"])
    assert any("DNS" in line or "DOMAIN" in line for line in fake_modem.received_commands[before:])
    family, kind, proto, _, address = modem_socket.getaddrinfo("www.test", "http")[0]
    assert (family, kind, address) == (std_socket.AF_INET, std_socket.SOCK_STREAM, ("127.0.0.1", 80))
    assert repr(family) == repr(std_socket.AF_INET)  # CPython's enums
    with pytest.raises(std_socket.gaierror):
        modem_socket.gethostbyname("nowhere.test")
    with pytest.raises(std_socket.herror):
        modem_socket.gethostbyaddr("127.0.0.1")  # the modules have no reverse lookup
    assert modem_socket.getnameinfo(("127.0.0.1", 80), 0) == ("127.0.0.1", "http")
    with pytest.raises(std_socket.gaierror):
        modem_socket.getnameinfo(("127.0.0.1", 80), std_socket.NI_NAMEREQD)
    assert modem_socket.getfqdn("www.test") == "www.test" and modem_socket.getfqdn() == std_socket.gethostname()


def test_create_connection_tries_each_address_in_turn(echo_server):
    hosts = dict(HOSTS, **{"multi.test": ["127.0.0.2", "127.0.0.1"]})  # the first refuses (nobody there)
    with FakeModem("quectel", hosts=hosts) as fm, atsock.open_modem(fm.port, apn="internet"):
        with modem_socket.create_connection(("multi.test", echo_server.port), timeout=10) as sock:
            assert sock.getpeername() == ("127.0.0.1", echo_server.port)
        opens = [line for line in fm.received_commands if line.startswith("AT+QIOPEN")]
        assert ['"127.0.0.2"' in opens[0], '"127.0.0.1"' in opens[1]] == [True, True]
        with pytest.raises(ExceptionGroup) as group:
            modem_socket.create_connection(("127.0.0.2", echo_server.port), all_errors=True)
        assert [type(exc) for exc in group.value.exceptions] == [ConnectionRefusedError]


def test_create_server_listens_on_the_modem(modem):
    server = modem_socket.create_server(("", 0), backlog=2)
    port = server.getsockname()[1]
    client = std_socket.create_connection(("127.0.0.1", port), timeout=5)
    conn, _ = server.accept()
    assert isinstance(conn, modem_socket.socket)
    client.sendall(b"hello server")
    assert conn.makefile("rb").read(12) == b"hello server"
    for sock in (conn, client, server):
        sock.close()


# --- a non-blocking connect under way: EAGAIN, None ------------------------------------------------
def test_calls_during_a_non_blocking_connect_would_block(modem):
    for sock in (atsock.socket(), modem_socket.socket()):
        sock.setblocking(False)
        with pytest.raises(BlockingIOError) as info:
            sock.connect(("127.0.0.66", 80))  # blackholed: it never answers
        assert info.value.errno == errno.EINPROGRESS
        for call in (lambda: sock.send(b"x"), lambda: sock.recv(1), lambda: sock.sendall(b"x"),
                     lambda: sock.recvfrom(1), lambda: sock.sendto(b"x", ("127.0.0.1", 9))):
            with pytest.raises(BlockingIOError) as info:
                call()
            assert info.value.errno == errno.EAGAIN
        assert (sock.read(1), sock.write(b"x"), sock.readline(), sock.readinto(bytearray(1))) == (None,) * 4
        sock.close()


def test_polls_refuse_a_negative_descriptor():
    for poller in (atsock.select.poll(), modem_select.poll()):
        with pytest.raises(ValueError):
            poller.register(-1)


def test_cpythons_poll_answers_descriptors(modem, echo_server):
    sock = connected(modem, echo_server)
    poller = modem_select.poll()
    poller.register(sock, modem_select.POLLIN)
    assert poller.poll(0) == []
    sock.sendall(b"wake up")
    assert poller.poll(5000) == [(sock.fileno(), modem_select.POLLIN)]
    poller.modify(sock.fileno(), modem_select.POLLOUT)
    assert poller.poll(0) == [(sock.fileno(), modem_select.POLLOUT)]
    poller.unregister(sock)
    with pytest.raises(KeyError):
        poller.unregister(sock)
    sock.close()


# --- ssl ----------------------------------------------------------------------------------------------
def test_https_with_a_ca_file_in_der(fake_modem, dialect, modem, https_server, ca, tmp_path):
    (tmp_path / "ca.der").write_bytes(std_ssl.PEM_cert_to_DER_cert(ca.cert_pem.bytes().decode()))
    context = modem_ssl.create_default_context(cafile=str(tmp_path / "ca.der"))
    sock = modem_socket.create_connection(("www.test", https_server.server_address[1]), timeout=10)
    with context.wrap_socket(sock, server_hostname="www.test") as tls:
        assert isinstance(tls, modem_ssl.SSLSocket) and tls.version()
        tls.sendall(b"GET /index.html HTTP/1.0\r\nHost: www.test\r\n\r\n")
        response = tls.makefile("rb")
        assert response.readline().startswith(b"HTTP/1.0 200")
        assert b"hello from the test server" in response.read()
        response.close()


def test_certificate_and_key_files_in_der(ca, tmp_path):
    from cryptography.hazmat.primitives import serialization
    issued = ca.issue_cert("www.test")
    key = serialization.load_pem_private_key(issued.private_key_pem.bytes(), None)
    (tmp_path / "cert.der").write_bytes(std_ssl.PEM_cert_to_DER_cert(issued.cert_chain_pems[0].bytes().decode()))
    (tmp_path / "key.der").write_bytes(key.private_bytes(serialization.Encoding.DER,
                                                         serialization.PrivateFormat.PKCS8,
                                                         serialization.NoEncryption()))
    context = modem_ssl.SSLContext(std_ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(tmp_path / "cert.der"), str(tmp_path / "key.der"))
    chain, private = context.module_credentials
    assert chain.startswith(b"-----BEGIN CERTIFICATE") and b"PRIVATE KEY" in private


def test_a_server_context_wraps_without_a_handshake(modem):
    context = modem_ssl.SSLContext(std_ssl.PROTOCOL_TLS_SERVER)
    listener = context.wrap_socket(modem_socket.socket(), do_handshake_on_connect=False)
    assert hasattr(listener, "accept")  # a server context makes server sockets, as MicroPython's
    listener.close()


class StreamOnly:
    """MicroPython's own ssl test wraps an object with write/readinto/setblocking and no socket."""

    def __init__(self):
        self.blocking = []

    def write(self, buf):
        return len(buf)

    def readinto(self, buf):
        return 0

    def setblocking(self, value):
        self.blocking.append(value)


def test_micropythons_wrap_socket_takes_any_stream():
    with pytest.raises(OSError):
        micropython_ssl.wrap_socket(StreamOnly(), server_hostname="test.example.com")  # the handshake meets EOF
    stream = StreamOnly()
    wrapped = micropython_ssl.wrap_socket(stream, server_side=True, do_handshake=False)
    wrapped.setblocking(False)
    wrapped.setblocking(True)
    assert stream.blocking == [False, True]  # passed on to the stream, as MicroPython does
    with pytest.raises(OSError):
        wrapped.write(b"aaaa")
    wrapped.close()
    wrapped.close()
    for call in (lambda: wrapped.read(10), lambda: wrapped.write(b"aaaa")):
        with pytest.raises(OSError):
            call()



def test_get_server_certificate_through_the_modem(modem, fake_modem, https_server):
    port = https_server.server_address[1]
    from cryptography import x509
    certificate = x509.load_pem_x509_certificate(modem_ssl.get_server_certificate(("www.test", port)).encode())
    names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.DNSName) == ["www.test"]  # the server's own certificate
    assert any(line.startswith(("AT+QIOPEN", "AT+CIPSTART")) and f",{port}" in line
               for line in fake_modem.received_commands)
