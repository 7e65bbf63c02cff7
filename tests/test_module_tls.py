"""The module's own TLS: atsock.ssl(module_tls=...) -> atsock socket -> pty -> fakemodem, whose
secure links are real TLS (CPython's ssl) to real servers on 127.0.0.1 with a throw-away CA
(trustme). Quectel AT+QSSL* with uploaded certificates; ESP-AT "SSL" links on 1.x and 2.x."""
import errno
import hashlib
import os
import queue
import socket as std_socket
import ssl as std_ssl
import threading

import pytest
import trustme
from cryptography.hazmat.primitives import serialization

import atsock
from atsock import ssl
from atsock.select import POLLIN, poll
from fakemodem import FakeModem
from modems.quectel.tls import checksum

from .at_client import AtPort
from .conftest import HOSTS, WIFI

WAIT = 10
MODULES = ["quectel", "esp-2.2", "esp-1.7"]


@pytest.fixture(scope="module")
def ca():
    return trustme.CA()


@pytest.fixture(scope="module")
def server_cert(ca):
    return ca.issue_cert("echo.test")


@pytest.fixture
def tls_server(tcp_server, ca, server_cert):
    """Factory: a CPython TLS echo server on 127.0.0.1. ``server.outcomes`` gets, per connection,
    (the SNI the client sent, the client's certificate or {}), or the handshake's error."""

    def start(client_certs=False, handler=None):
        context = std_ssl.SSLContext(std_ssl.PROTOCOL_TLS_SERVER)
        server_cert.configure_cert(context)
        if client_certs:
            context.verify_mode = std_ssl.CERT_REQUIRED
            ca.configure_trust(context)
        names = queue.Queue()
        context.sni_callback = lambda sock, name, ctx: names.put(name)
        outcomes = queue.Queue()

        def serve(conn):
            try:
                tls = context.wrap_socket(conn, server_side=True)
            except (std_ssl.SSLError, OSError) as exc:
                outcomes.put(exc)
                return
            with tls:
                outcomes.put((names.get_nowait() if not names.empty() else None, tls.getpeercert() or {}))
                if handler is not None:
                    handler(tls)
                    return
                while True:
                    data = tls.recv(65536)
                    if not data:
                        return
                    tls.sendall(data)

        server = tcp_server(serve)
        server.outcomes = outcomes
        return server

    return start


def open_module(kind, ca_pem=None, **options):
    """(FakeModem, Modem) of ``kind``: "quectel", "esp-2.2" (its flash holding ``ca_pem``) or "esp-1.7"."""
    if kind == "quectel":
        fm = FakeModem("quectel", hosts=HOSTS, **options)
        return fm, atsock.open_modem(fm.port, dialect="quectel", apn="internet")
    firmware = kind.split("-")[1]
    flashed = dict(client_ca=[ca_pem]) if ca_pem is not None and firmware == "2.2" else {}
    fm = FakeModem("esp8285", firmware=firmware, hosts=HOSTS, networks={WIFI["ssid"]: WIFI["key"]},
                   **flashed, **options)
    return fm, atsock.open_modem(fm.port, dialect="esp8285", **WIFI)


def verifying(ca_pem: bytes) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.load_verify_locations(cadata=ca_pem)
    return context


def module_tls(kind):
    """What each module needs beyond the context: ESP-AT 2.x is told to use its flashed CA 0."""
    return ssl.ModuleTLS(ca_slot=0) if kind == "esp-2.2" else True


def connect(tls, port, host="echo.test"):
    tls.settimeout(WAIT)
    tls.connect(atsock.getaddrinfo(host, port)[0][-1])
    return tls


def files_left(fm):
    """AT+QFLST="*" on the emulator's line once atsock has let go of it: the files it holds."""
    with AtPort(fm.port) as at:
        return at.command('AT+QFLST="*"')


# --- the main path ------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", MODULES)
def test_module_tls_echo_of_256_kib_has_equal_sha256(kind, tls_server, ca):
    server = tls_server()
    fm, modem = open_module(kind, ca.cert_pem.bytes())
    with fm:
        with modem:
            context = verifying(ca.cert_pem.bytes())
            if kind == "esp-1.7":
                context.verify_mode = ssl.CERT_NONE  # NonOS AT cannot check: said so, not pretended
            tls = context.wrap_socket(atsock.socket(), server_hostname="echo.test", module_tls=module_tls(kind))
            connect(tls, server.port)
            assert isinstance(tls, ssl.SSLSocket)
            assert tls.getpeercert() is None and tls.cipher() is None and tls.version() is None  # the module won't say
            payload = os.urandom(256 * 1024)
            sender = threading.Thread(target=tls.sendall, args=(payload,))
            sender.start()
            received = tls.read(len(payload))
            sender.join()
            assert hashlib.sha256(received).hexdigest() == hashlib.sha256(payload).hexdigest()
            tls.write(b"a line\nmore")
            assert tls.readline() == b"a line\n"
            tls.close()
            sni, client_cert = server.outcomes.get(timeout=WAIT)
            assert sni == (None if kind == "esp-1.7" else "echo.test") and client_cert == {}
            commands = list(fm.received_commands)
            if kind == "quectel":
                assert any(c.startswith("AT+QSSLOPEN=1,1,0,\"echo.test\"") for c in commands)
                assert any(c.startswith("AT+QSSLSEND=0,") for c in commands) and 'AT+QSSLCFG="seclevel",1,1' in commands
                assert not any(c.startswith(("AT+QISEND", "AT+QIOPEN")) for c in commands)
                assert fm.call(fm.module.ssl_ids) == []
            else:
                assert any(c.startswith('AT+CIPSTART=0,"SSL"') for c in commands)
                assert ('AT+CIPSSLCCONF=0,2,0,0' in commands) == (kind == "esp-2.2")
                assert fm.call(fm.module.open_ids) == []
        if kind == "quectel":
            assert files_left(fm) == b"\r\nOK\r\n"  # the CA left the module with the handshake


@pytest.mark.parametrize("kind", ["quectel", "esp-2.2"])
def test_an_unknown_ca_is_refused(kind, tls_server, ca):
    server = tls_server()
    stranger = trustme.CA()
    fm, modem = open_module(kind, stranger.cert_pem.bytes())  # an ESP flashed with another CA
    with fm:
        with modem:
            contexts = [verifying(stranger.cert_pem.bytes())]
            if kind == "quectel":
                contexts.append(ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT))  # no CA at all: verifies all the same
            for context in contexts:
                tls = context.wrap_socket(atsock.socket(), server_hostname="echo.test", module_tls=module_tls(kind))
                expected = ssl.SSLCertVerificationError if kind == "quectel" else ssl.SSLError
                with pytest.raises(expected) as refused:
                    connect(tls, server.port)
                assert isinstance(refused.value, OSError)
                assert isinstance(server.outcomes.get(timeout=WAIT), std_ssl.SSLError)  # the server heard it fail
                tls.close()
            assert modem.socket_ids() == []
            if kind == "quectel":
                assert fm.call(fm.module.ssl_ids) == []
        if kind == "quectel":
            assert files_left(fm) == b"\r\nOK\r\n"


@pytest.mark.parametrize("kind", ["quectel", "esp-2.2"])
def test_a_certificate_for_another_name_is_refused(kind, tls_server, ca):
    server = tls_server()
    fm, modem = open_module(kind, ca.cert_pem.bytes())
    with fm:
        with modem:
            tls = verifying(ca.cert_pem.bytes()).wrap_socket(atsock.socket(), server_hostname="www.test",
                                                              module_tls=module_tls(kind))
            with pytest.raises(ssl.SSLError):  # the certificate names echo.test only
                connect(tls, server.port, host="www.test")
            tls.close()
            commands = list(fm.received_commands)
            if kind == "quectel":
                assert any(c.startswith('AT+QSSLOPEN=1,1,0,"www.test"') for c in commands)
            else:
                assert 'AT+CIPSSLCCN=0,"www.test"' in commands
            unchecked = verifying(ca.cert_pem.bytes())  # a verifying module checks the name it is given:
            unchecked.check_hostname = False          # turning the check off asks less than it does
            tls = unchecked.wrap_socket(atsock.socket(), server_hostname="www.test", module_tls=module_tls(kind))
            with pytest.raises(ssl.SSLError):
                connect(tls, server.port, host="www.test")
            tls.close()


@pytest.mark.parametrize("kind", ["quectel", "esp-2.2"])
def test_the_peers_close_ends_the_stream_after_its_data_and_poll_sees_it(kind, tls_server, ca):
    body = os.urandom(100_000)
    go = threading.Event()

    def send_and_close(tls):
        go.wait(WAIT)
        tls.sendall(body)

    server = tls_server(handler=send_and_close)
    fm, modem = open_module(kind, ca.cert_pem.bytes())
    with fm, modem:
        tls = connect(verifying(ca.cert_pem.bytes()).wrap_socket(
            atsock.socket(), server_hostname="echo.test", module_tls=module_tls(kind)), server.port)
        tls.setblocking(False)
        poller = poll()
        poller.register(tls, POLLIN)
        assert poller.poll(0) == [] and tls.read(10) is None
        go.set()
        assert poller.poll(WAIT * 1000) == [(tls, POLLIN)]
        assert tls.pending() > 0  # plaintext waits in the socket: a read takes it without waiting
        tls.settimeout(WAIT)
        assert tls.read() == body  # everything, then the end of the stream
        assert tls.recv(10) == b""
        tls.close()
        assert modem.socket_ids() == []


def test_quectel_opens_two_at_once_and_keeps_their_data_apart(tls_server, ca):
    server = tls_server()
    fm, modem = open_module("quectel")
    with fm, modem:
        context = verifying(ca.cert_pem.bytes())
        sockets = [context.wrap_socket(atsock.socket(), server_hostname="echo.test", module_tls=True)
                   for _ in range(2)]
        openers = [threading.Thread(target=connect, args=(tls, server.port)) for tls in sockets]
        for opener in openers:
            opener.start()
        for opener in openers:
            opener.join()
        for index, tls in enumerate(sockets):
            tls.write(b"socket %d" % index)
        assert [tls.read(8) for tls in sockets] == [b"socket 0", b"socket 1"]
        assert fm.call(fm.module.ssl_ids) == [0, 1]
        for tls in sockets:
            tls.close()
        assert fm.call(fm.module.ssl_ids) == [] and fm.call(fm.module.open_ids) == []


def test_quectel_open_given_up_by_its_caller_frees_the_id_and_the_files(tcp_server, ca):
    silent = threading.Event()
    server = tcp_server(lambda conn: silent.wait(WAIT))  # takes the connection, never shakes hands
    fm, modem = open_module("quectel")
    with fm:
        with modem:
            tls = verifying(ca.cert_pem.bytes()).wrap_socket(atsock.socket(), server_hostname="echo.test",
                                                              module_tls=True)
            tls.settimeout(0.5)
            with pytest.raises(TimeoutError):
                tls.connect(("127.0.0.1", server.port))
            for _ in range(100):  # the id is given back once the module confirms (AT+QSSLCLOSE)
                if not modem.socket_ids():
                    break
                silent.wait(0.05)
            assert modem.socket_ids() == [] and fm.call(fm.module.ssl_ids) == []
            assert "AT+QSSLCLOSE=0" in fm.received_commands
        silent.set()
        assert files_left(fm) == b"\r\nOK\r\n"


def test_quectel_presents_the_contexts_client_certificate(tls_server, ca):
    server = tls_server(client_certs=True)
    client = ca.issue_cert("client.test")
    fm, modem = open_module("quectel")
    with fm:
        with modem:
            without = verifying(ca.cert_pem.bytes())
            with pytest.raises(ssl.SSLError):
                connect(without.wrap_socket(atsock.socket(), server_hostname="echo.test", module_tls=True), server.port)
            assert isinstance(server.outcomes.get(timeout=WAIT), std_ssl.SSLError)
            context = verifying(ca.cert_pem.bytes())
            context.load_cert_chain(client.cert_chain_pems[0].bytes(), client.private_key_pem.bytes())
            tls = context.wrap_socket(atsock.socket(), server_hostname="echo.test", module_tls=True)
            connect(tls, server.port)
            tls.write(b"ping")
            assert tls.read(4) == b"ping"
            assert server.outcomes.get(timeout=WAIT)[1]["subjectAltName"] == (("DNS", "client.test"),)
            tls.close()
            assert 'AT+QSSLCFG="seclevel",1,2' in fm.received_commands
        assert files_left(fm) == b"\r\nOK\r\n"  # certificate and key removed too


def test_quectel_tells_a_refused_connection_from_a_refused_certificate(ca):
    fm, modem = open_module("quectel")
    with fm:
        with modem:
            closed_port = std_socket.create_server(("127.0.0.1", 0))
            port = closed_port.getsockname()[1]
            closed_port.close()
            tls = verifying(ca.cert_pem.bytes()).wrap_socket(atsock.socket(), server_hostname="echo.test",
                                                              module_tls=True)
            with pytest.raises(ConnectionRefusedError) as refused:  # 566 both, AT+QIGETERROR tells them apart
                connect(tls, port)
            assert not isinstance(refused.value, ssl.SSLError)
            assert "AT+QIGETERROR" in fm.received_commands


# --- what a module cannot do is refused, not skipped ---------------------------------------------
def test_what_the_firmware_cannot_check_is_refused_before_anything_is_sent(ca):
    for kind, options, code in (("esp-1.7", True, errno.EOPNOTSUPP), ("esp-2.2", True, errno.EINVAL),
                                ("quectel", ssl.ModuleTLS(ca_slot=0), errno.EINVAL)):
        fm, modem = open_module(kind, ca.cert_pem.bytes())
        with fm:
            with modem:
                before = len(fm.received_commands)
                tls = verifying(ca.cert_pem.bytes()).wrap_socket(atsock.socket(), server_hostname="echo.test",
                                                                  module_tls=options)
                tls.settimeout(WAIT)
                with pytest.raises(OSError) as refused:
                    tls.connect(("127.0.0.1", 443))
                assert refused.value.errno == code, (kind, refused.value)
                assert len(fm.received_commands) == before  # not one command went out
                tls.close()


def test_nonos_at_holds_one_ssl_link(tls_server, ca):
    server = tls_server()
    fm, modem = open_module("esp-1.7")
    with fm, modem:
        first = connect(ssl.wrap_socket(atsock.socket(), server_hostname="echo.test", module_tls=True), server.port)
        second = ssl.wrap_socket(atsock.socket(), server_hostname="echo.test", module_tls=True)
        with pytest.raises(OSError) as refused:
            connect(second, server.port)
        assert refused.value.errno == errno.EMFILE
        first.close()
        connect(second, server.port).close()  # the one link is free again


def test_a_key_with_a_password_is_not_given_to_a_module(ca):
    client = ca.issue_cert("client.test")
    context = verifying(ca.cert_pem.bytes())
    context.load_cert_chain(client.cert_chain_pems[0].bytes(), client.private_key_pem.bytes())
    assert context.module_credentials == (client.cert_chain_pems[0].bytes(), client.private_key_pem.bytes())
    encrypted = serialization.load_pem_private_key(client.private_key_pem.bytes(), None).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"secret"))
    context.load_cert_chain(client.cert_chain_pems[0].bytes(), encrypted, password="secret")
    with pytest.raises(ValueError, match="password"):
        context.wrap_socket(None, server_hostname="echo.test", module_tls=True)


def test_module_tls_wraps_before_connect_and_checks_its_arguments(ca, tls_server):
    server = tls_server()
    fm, modem = open_module("quectel")
    with fm:
        with modem:
            context = verifying(ca.cert_pem.bytes())
            with pytest.raises(ValueError, match="server_hostname"):
                context.wrap_socket(atsock.socket(), module_tls=True)
            plain = atsock.socket()
            plain.settimeout(WAIT)
            plain.connect(("127.0.0.1", server.port))
            with pytest.raises(ValueError, match="before connect"):
                context.wrap_socket(plain, server_hostname="echo.test", module_tls=True)
            plain.close()
            with pytest.raises(NotImplementedError):
                context.wrap_socket(atsock.socket(), server_side=True, module_tls=True)
            with pytest.raises(TypeError):
                context.wrap_socket(atsock.socket(), server_hostname="echo.test", module_tls="yes")
            # MicroPython's call: no verification unless asked (it logs that it does not verify)
            tls = connect(ssl.wrap_socket(atsock.socket(), server_hostname="echo.test", module_tls=True), server.port)
            tls.write(b"ok")
            assert tls.read(2) == b"ok"
            tls.close()
            assert 'AT+QSSLCFG="seclevel",1,0' in fm.received_commands


# --- the emulator's file system, byte for byte ----------------------------------------------------
STAND_IN = b"-----BEGIN CERTIFICATE-----\r\nMIIBdemo\r\n-----END CERTIFICATE-----\r\n"  # quectel-ssl.md §8.1


def upload(at, name, data, ackmode=False):
    at.write(f'AT+QFUPL="{name}",{len(data)},10{",1" if ackmode else ""}\r'.encode())
    head = at.read_until(rb"\r\n(CONNECT|\+CME ERROR: \d+)\r\n")
    if b"CONNECT" not in head:
        return head
    if ackmode:
        acks = b""
        for start in range(0, len(data), 1024):
            at.write(data[start:start + 1024])
            if len(data) - start >= 1024:
                acks += at.read_exact(1)
        assert acks == b"A" * (len(data) // 1024)
    else:
        at.write(data)
    return head + at.read_until(rb"\r\n(OK|\+CME ERROR: \d+)\r\n")


@pytest.mark.parametrize("pad", [False, True])
def test_qfupl_checksums_and_file_commands_byte_for_byte(pad):
    with FakeModem("quectel", qfupl_checksum_pad=pad) as fm, AtPort(fm.port) as at:
        at.read_until(rb"SMS DONE\r\n")
        at.command("ATE0")
        at.command("AT+CMEE=1")
        assert at.command('AT+QFDEL="ca.pem"') == b"\r\n+CME ERROR: 405\r\n"
        assert upload(at, "ca.pem", STAND_IN) == b"\r\nCONNECT\r\n\r\n+QFUPL: 66,7477\r\n\r\nOK\r\n"
        assert upload(at, "ca.pem", STAND_IN) == b"\r\n+CME ERROR: 407\r\n"  # no CONNECT: nothing to send
        logged = b"-----BEGIN CERTIFICATE-----\r"  # a BG95 printed +QFUPL: 28,6c53 for these 28 bytes
        assert upload(at, "UFS:line.pem", logged) == b"\r\nCONNECT\r\n\r\n+QFUPL: 28,6c53\r\n\r\nOK\r\n"
        assert upload(at, "small.bin", b"\x00\x01\x00") == \
            b"\r\nCONNECT\r\n\r\n+QFUPL: 3,%s\r\n\r\nOK\r\n" % (b"0001" if pad else b"1")
        binary = bytes(range(256)) * 9  # CR, LF, "+++" and every other byte are data
        digits = format(checksum(binary), "04x" if pad else "x").encode()
        assert upload(at, "blob.der", binary, ackmode=True) == \
            b"\r\nCONNECT\r\n\r\n+QFUPL: 2304,%s\r\n\r\nOK\r\n" % digits
        assert at.command('AT+QFLST="*"') == (b'\r\n+QFLST: "UFS:blob.der",2304\r\n\r\n+QFLST: "UFS:ca.pem",66\r\n'
                                              b'\r\n+QFLST: "UFS:line.pem",28\r\n\r\n+QFLST: "UFS:small.bin",3\r\n'
                                              b'\r\nOK\r\n')
        assert at.command('AT+QFLST="*.pem"').count(b"+QFLST:") == 2
        at.command('AT+CFUN=1,1')  # a restart keeps the files (flash), not the SSL contexts
        at.read_until(rb"SMS DONE\r\n")
        at.command("ATE0")
        assert at.command('AT+QFLST="UFS:ca.pem"') == b'\r\n+QFLST: "UFS:ca.pem",66\r\n\r\nOK\r\n'
        for name in ("ca.pem", "line.pem", "small.bin", "blob.der"):
            assert at.command(f'AT+QFDEL="{name}"') == b"\r\nOK\r\n"
        assert at.command('AT+QFLST="*"') == b"\r\nOK\r\n"


def test_qsslcfg_names_defaults_and_case():
    with FakeModem("quectel") as fm, AtPort(fm.port) as at:
        at.read_until(rb"SMS DONE\r\n")
        at.command("ATE0")
        for name, default in (("seclevel", b"0"), ("sni", b"0"), ("ignorelocaltime", b"1"), ("sslversion", b"4"),
                              ("ciphersuite", b"0XFFFF"), ("negotiatetime", b"300"), ("cacert", b'""')):
            assert at.command(f'AT+QSSLCFG="{name}",1') == b'\r\n+QSSLCFG: "%s",1,%s\r\n\r\nOK\r\n' % (
                name.encode(), default)
        assert at.command('AT+QSSLCFG="cacert",1,"UFS:ca.pem"') == b"\r\nOK\r\n"
        assert at.command('AT+QSSLCFG="cacert",1') == b'\r\n+QSSLCFG: "cacert",1,"UFS:ca.pem"\r\n\r\nOK\r\n'
        assert at.command('AT+QSSLCFG="ciphersuite",2,0x0035') == b"\r\nOK\r\n"
        assert at.command('AT+QSSLCFG="ciphersuite",2') == b'\r\n+QSSLCFG: "ciphersuite",2,0X0035\r\n\r\nOK\r\n'
        assert at.command('AT+QSSLCFG="SNI",1,1') == b"\r\nERROR\r\n"  # BG96 refuses upper-case names
        assert at.command('AT+QSSLCFG="seclevel",6,1') == b"\r\nERROR\r\n"


def test_driver_checksum_matches_the_logged_values():
    assert checksum(STAND_IN) == 0x7477
    assert checksum(b"-----BEGIN CERTIFICATE-----\r") == 0x6C53
    assert checksum(b"\x12") == 0x1200 and checksum(b"") == 0
