"""Host TLS over modem sockets: atsock.ssl -> atsock socket -> pty -> fakemodem -> real TLS peers on
127.0.0.1 (CPython ssl servers and clients, mosquitto), with a throw-away CA made by trustme."""
import base64
import hashlib
import os
import queue
import socket as std_socket
import ssl as std_ssl
import sys
import threading

import pytest
import trustme
from cryptography.hazmat.primitives import serialization

import atsock
import atsock.tls
from atsock import micropython, ssl
from atsock.select import POLLIN, POLLOUT, poll
from atsock.tls.session import RECORD
from fakemodem import FakeModem

from .conftest import emulator_options, modem_settings
from .peers import Mosquitto, micropython_module

WAIT = 10  # seconds a test waits for its peer before it gives up


@pytest.fixture(scope="module")
def ca():
    return trustme.CA()


@pytest.fixture(scope="module")
def server_cert(ca):
    return ca.issue_cert("echo.test", "mqtt.test")


def der(pem: bytes) -> bytes:
    """The DER inside the first PEM block of ``pem``."""
    lines = pem.decode("ascii").splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("-----BEGIN"))
    end = next(i for i, line in enumerate(lines) if line.startswith("-----END"))
    return base64.b64decode("".join(lines[start + 1:end]))


def echo(tls):
    while True:
        data = tls.recv(65536)
        if not data:
            return
        tls.sendall(data)


@pytest.fixture
def tls_server(tcp_server, ca, server_cert):
    """Factory: a threaded CPython ssl server on 127.0.0.1. Each connection's outcome goes to
    ``server.outcomes``: the client's certificate (a dict, {} if none) or the handshake's error."""

    def start(handler=echo, version=None, client_certs=False):
        context = std_ssl.SSLContext(std_ssl.PROTOCOL_TLS_SERVER)
        server_cert.configure_cert(context)
        if version is not None:
            context.minimum_version = context.maximum_version = version
        if client_certs:
            context.verify_mode = std_ssl.CERT_REQUIRED
            ca.configure_trust(context)
        outcomes = queue.Queue()

        def serve(conn):
            try:
                tls = context.wrap_socket(conn, server_side=True)
            except std_ssl.SSLError as exc:
                outcomes.put(exc)
                return
            with tls:
                outcomes.put(tls.getpeercert() or {})
                handler(tls)

        server = tcp_server(serve)
        server.outcomes = outcomes
        return server

    return start


def client_context(ca) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.load_verify_locations(cadata=ca.cert_pem.bytes())
    return context


def modem_connect(port, host="echo.test"):
    sock = atsock.socket()
    sock.settimeout(WAIT)
    sock.connect(atsock.getaddrinfo(host, port)[0][-1])
    return sock


# --- the main path ------------------------------------------------------------------------------
@pytest.mark.parametrize("version", [std_ssl.TLSVersion.TLSv1_2, std_ssl.TLSVersion.TLSv1_3], ids=["1.2", "1.3"])
def test_one_mebibyte_echo_over_tls_has_equal_sha256(modem, tls_server, ca, version):
    server = tls_server(version=version)
    context = client_context(ca)
    if version == std_ssl.TLSVersion.TLSv1_2:
        context.set_ciphers(["TLS-ECDHE-ECDSA-WITH-AES-128-GCM-SHA256"])  # MicroPython's list, mbedtls names
    tls = context.wrap_socket(modem_connect(server.port), server_hostname="echo.test")
    assert tls.version() == version.name.replace("_", ".")
    if version == std_ssl.TLSVersion.TLSv1_2:
        assert tls.cipher()[0] == "ECDHE-ECDSA-AES128-GCM-SHA256"
    payload = os.urandom(1024 * 1024)
    sender = threading.Thread(target=tls.sendall, args=(payload,))
    sender.start()
    received = tls.read(len(payload))
    sender.join()
    assert hashlib.sha256(received).hexdigest() == hashlib.sha256(payload).hexdigest()
    tls.write(b"one line\nand the rest")
    assert tls.readline() == b"one line\n"
    buf = bytearray(12)
    assert tls.readinto(buf) == 12 and bytes(buf) == b"and the rest"
    assert tls.makefile("rwb") is tls
    tls.close()
    assert server.outcomes.get(timeout=WAIT) == {}  # the server asked for no client certificate


def test_read_to_an_end_without_close_notify(modem, tls_server, ca):
    body = os.urandom(200_000)
    server = tls_server(handler=lambda tls: tls.sendall(body))  # CPython closes without close_notify
    tls = client_context(ca).wrap_socket(modem_connect(server.port), server_hostname="echo.test")
    assert tls.read() == body  # as CPython's suppress_ragged_eofs: the end of the stream
    assert tls.recv(10) == b""
    tls.close()
    strict = client_context(ca).wrap_socket(modem_connect(server.port), server_hostname="echo.test",
                                            suppress_ragged_eofs=False)
    with pytest.raises(ssl.SSLEOFError):
        strict.read()
    strict.close()


def test_a_read_that_times_out_keeps_what_it_gathered(modem, tls_server, ca):
    go_on = threading.Event()

    def in_two_parts(tls):
        tls.sendall(b"hel")
        go_on.wait(WAIT)
        tls.sendall(b"lo")
        tls.recv(1)

    server = tls_server(handler=in_two_parts)
    tls = client_context(ca).wrap_socket(modem_connect(server.port), server_hostname="echo.test")
    tls.settimeout(0.3)
    with pytest.raises(TimeoutError):
        tls.read(5)  # "hel" came, "lo" did not
    go_on.set()
    tls.settimeout(WAIT)
    assert tls.read(5) == b"hello"
    tls.close()


def test_hostname_mismatch_is_refused_and_the_server_hears_why(modem, tls_server, ca):
    server = tls_server()
    sock = modem_connect(server.port, host="www.test")  # the certificate names echo.test and mqtt.test
    with pytest.raises(ssl.SSLCertVerificationError) as refused:
        client_context(ca).wrap_socket(sock, server_hostname="www.test")
    assert "Hostname mismatch" in refused.value.verify_message
    assert isinstance(refused.value, OSError)
    assert "ALERT" in server.outcomes.get(timeout=WAIT).reason  # our alert crossed the modem
    sock.close()


def test_unknown_ca_is_refused_and_verification_is_on_by_default(modem, tls_server):
    server = tls_server()
    stranger = client_context(trustme.CA())  # trusts another CA
    for context in (stranger, ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)):  # ... or none at all
        sock = modem_connect(server.port)
        with pytest.raises(ssl.SSLCertVerificationError) as refused:
            context.wrap_socket(sock, server_hostname="echo.test")
        assert refused.value.verify_code == 20  # unable to get local issuer certificate
        sock.close()
    fresh = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    assert fresh.verify_mode == ssl.CERT_REQUIRED and fresh.check_hostname
    with pytest.raises(ValueError, match="server_hostname"):  # no name, nothing to check it against
        fresh.wrap_socket(modem_connect(server.port))


def test_client_certificate_required_fails_without_and_works_with(modem, tls_server, ca):
    server = tls_server(client_certs=True)
    sock = modem_connect(server.port)
    with pytest.raises(ssl.SSLError, match="CERTIFICATE_REQUIRED"):
        tls = client_context(ca).wrap_socket(sock, server_hostname="echo.test")
        tls.read(4)  # TLS 1.3: the server's verdict comes after the client's handshake
    assert isinstance(server.outcomes.get(timeout=WAIT), std_ssl.SSLError)
    sock.close()

    client = ca.issue_cert("client.test")
    key_pkcs8_der = serialization.load_pem_private_key(client.private_key_pem.bytes(), None).private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    for key in (der(client.private_key_pem.bytes()), key_pkcs8_der):  # SEC1 and PKCS#8 DER
        tls = ssl.wrap_socket(modem_connect(server.port), key=key, cert=der(client.cert_chain_pems[0].bytes()),
                              cert_reqs=ssl.CERT_REQUIRED, cadata=der(ca.cert_pem.bytes()),
                              server_hostname="echo.test")  # MicroPython's call, all in DER
        tls.write(b"ping")
        assert tls.read(4) == b"ping"
        assert server.outcomes.get(timeout=WAIT)["subjectAltName"] == (("DNS", "client.test"),)
        tls.close()


def test_getpeercert_as_dict_and_der_and_cipher(modem, tls_server, ca, server_cert):
    server = tls_server()
    tls = client_context(ca).wrap_socket(modem_connect(server.port), server_hostname="echo.test")
    assert tls.getpeercert()["subjectAltName"] == (("DNS", "echo.test"), ("DNS", "mqtt.test"))
    assert tls.getpeercert(True) == der(server_cert.cert_chain_pems[0].bytes())
    name, protocol, bits = tls.cipher()
    assert protocol == tls.version() and bits >= 128
    assert isinstance(tls, ssl.SSLSocket)
    tls.close()
    unverified = ssl.wrap_socket(modem_connect(server.port))  # MicroPython's default: CERT_NONE
    assert unverified.getpeercert() == {}  # as CPython: nothing vouched for, no dict
    assert unverified.getpeercert(binary_form=True) == der(server_cert.cert_chain_pems[0].bytes())
    unverified.close()
    context = client_context(ca)
    early = context.wrap_socket(atsock.socket(), server_hostname="echo.test")  # CPython's order:
    assert early.getpeercert() is None
    early.settimeout(WAIT)
    early.connect(atsock.getaddrinfo("echo.test", server.port)[0][-1])  # wrap, then connect
    assert early.getpeercert()["subjectAltName"][0] == ("DNS", "echo.test")
    early.write(b"ping")
    assert early.read(4) == b"ping"
    again = context.wrap_socket(modem_connect(server.port), server_hostname="echo.test",
                                session=early.session)  # the TLS 1.3 ticket came with the first read
    assert again.session_reused
    again.close()
    early.close()


# --- poll and non-blocking reads ----------------------------------------------------------------
def test_nonblocking_reads_with_poll_see_only_whole_records(modem, tcp_server, ca, server_cert):
    """The server writes one record in two halves: the first half makes the modem socket
    readable, but the TLS socket only when the record is whole."""
    half_sent, go_on, close_now = threading.Event(), threading.Event(), threading.Event()
    context = std_ssl.SSLContext(std_ssl.PROTOCOL_TLS_SERVER)
    server_cert.configure_cert(context)

    def split_record_server(conn):
        incoming, outgoing = std_ssl.MemoryBIO(), std_ssl.MemoryBIO()
        tls = context.wrap_bio(incoming, outgoing, server_side=True)
        while True:
            try:
                tls.do_handshake()
                break
            except std_ssl.SSLWantReadError:
                conn.sendall(outgoing.read())
                data = conn.recv(65536)
                if not data:
                    return
                incoming.write(data)
        conn.sendall(outgoing.read())  # the last flight, and TLS 1.3 session tickets
        tls.write(b"hello")
        record = outgoing.read()
        conn.sendall(record[:len(record) // 2])
        half_sent.set()
        go_on.wait(WAIT)
        conn.sendall(record[len(record) // 2:])
        close_now.wait(WAIT)
        try:
            tls.unwrap()
        except std_ssl.SSLWantReadError:
            pass
        conn.sendall(outgoing.read())  # close_notify

    server = tcp_server(split_record_server)
    raw = modem_connect(server.port)
    tls = client_context(ca).wrap_socket(raw, server_hostname="echo.test")
    tls.setblocking(False)
    poller = poll()
    poller.register(tls, POLLIN)
    assert tls.read(5) is None
    assert half_sent.wait(WAIT)
    raw_poller = poll()
    raw_poller.register(raw, POLLIN)
    assert raw_poller.poll(WAIT * 1000)  # ciphertext waits in the modem socket ...
    assert poller.poll(0) == []          # ... but no plaintext: not readable
    assert tls.read(5) is None
    with pytest.raises(BlockingIOError):
        tls.recv(5)
    go_on.set()
    assert poller.poll(WAIT * 1000) == [(tls, POLLIN)]
    assert tls.read(5) == b"hello"
    assert poller.poll(0) == []
    close_now.set()
    assert poller.poll(WAIT * 1000) == [(tls, POLLIN)]  # the end of the stream is news too
    assert tls.read() == b""
    tls.close()


# --- a TLS server on the modem ------------------------------------------------------------------
def test_tls_server_on_the_modem_accepts_a_host_client(modem, ca, server_cert):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(server_cert.cert_chain_pems[0].bytes(), server_cert.private_key_pem.bytes())
    host_context = std_ssl.create_default_context(cadata=ca.cert_pem.bytes().decode())
    replies = queue.Queue()

    def host_client(port):
        with std_socket.create_connection(("127.0.0.1", port), timeout=WAIT) as plain:
            with host_context.wrap_socket(plain, server_hostname="echo.test") as tls:
                tls.sendall(b"hello modem\n")
                replies.put(tls.recv(100))

    listener = atsock.socket()
    listener.bind(("", 0))
    listener.listen(2)
    listener.settimeout(WAIT)
    port = listener.getsockname()[1]
    # accept, then wrap (MicroPython's way) ...
    threading.Thread(target=host_client, args=(port,), daemon=True).start()
    conn, _ = listener.accept()
    tls = context.wrap_socket(conn, server_side=True)
    assert tls.readline() == b"hello modem\n"
    tls.write(b"hello host")
    assert replies.get(timeout=WAIT) == b"hello host"
    tls.close()
    # ... or wrap the listener (CPython's way): accept() hands out TLS sockets
    tls_listener = context.wrap_socket(listener, server_side=True)
    threading.Thread(target=host_client, args=(port,), daemon=True).start()
    tls, _ = tls_listener.accept()
    assert tls.version() == "TLSv1.3" and tls.server_side
    assert tls.readline() == b"hello modem\n"
    tls.write(b"hello again")
    assert replies.get(timeout=WAIT) == b"hello again"
    tls.close()
    tls_listener.close()


# --- MicroPython code and CPython's ssl ---------------------------------------------------------
@pytest.fixture(scope="module")
def tls_broker(tmp_path_factory, ca, server_cert):
    workdir = tmp_path_factory.mktemp("mosquitto-tls")
    files = (workdir / "ca.pem", workdir / "cert.pem", workdir / "key.pem")
    ca.cert_pem.write_to_path(str(files[0]))
    server_cert.cert_chain_pems[0].write_to_path(str(files[1]))
    server_cert.private_key_pem.write_to_path(str(files[2]))
    broker = Mosquitto(workdir, tls=files)
    yield broker
    broker.close()


@pytest.fixture
def mqtt_modem(dialect):
    options = emulator_options(dialect)
    options["hosts"] = dict(options["hosts"], **{"mqtt.test": "127.0.0.1"})
    with FakeModem(dialect, **options) as fm:
        with atsock.open_modem(fm.port, dialect=dialect, **modem_settings(dialect)) as modem:
            yield modem


def test_umqtt_simple_with_ssl_true_talks_to_mosquitto_over_tls(mqtt_modem, tls_broker, ca):
    simple = micropython.load(micropython_module("micropython-umqtt.simple"), "umqtt_simple_tls")
    params = {"server_hostname": "mqtt.test", "cert_reqs": ssl.CERT_REQUIRED, "cadata": der(ca.cert_pem.bytes())}
    client = simple.MQTTClient("atsock-tls", "mqtt.test", port=tls_broker.port, keepalive=30, ssl=True,
                               ssl_params=params)
    received = []
    client.set_callback(lambda topic, message: received.append((topic, message)))
    client.connect()
    assert isinstance(client.sock, ssl.SSLSocket) and client.sock.getpeercert()
    client.sock.settimeout(WAIT)  # a broken path fails the test instead of hanging it
    client.subscribe(b"atsock/tls")
    client.publish(b"atsock/tls", b"hello over TLS")
    client.wait_msg()
    assert received == [(b"atsock/tls", b"hello over TLS")]
    client.publish(b"atsock/tls", b"y" * 3000, qos=1)
    while len(received) < 2:
        client.check_msg()  # non-blocking read(1): None until a whole record waits
    assert received[1] == (b"atsock/tls", b"y" * 3000)
    client.disconnect()


def test_cpython_ssl_on_an_atsock_socket_says_what_to_use(quectel_modem):
    sock = atsock.socket()
    with pytest.raises(OSError, match="use atsock.ssl"):
        std_ssl.create_default_context().wrap_socket(sock, server_hostname="echo.test")
    sock.close()


def test_micropython_names_ussl_tls_and_ssl(monkeypatch, tmp_path):
    for name in ("ussl", "tls", "ssl"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    monkeypatch.setitem(sys.modules, "ssl", std_ssl)
    atsock.install()
    assert sys.modules["ussl"] is atsock.tls and sys.modules["tls"] is atsock.tls
    assert sys.modules["ssl"] is std_ssl  # the standard name only when asked
    atsock.install(standard_names=True)
    assert sys.modules["ssl"] is atsock.standard.ssl  # CPython's names, atsock's TLS
    monkeypatch.setitem(sys.modules, "ssl", std_ssl)
    source = tmp_path / "uses_ssl.py"
    source.write_text("import ssl\nimport ussl\nimport tls\nNAMES = (ssl, ussl, tls)\n")
    assert micropython.load(source).NAMES == (atsock.tls,) * 3


# --- without a modem: the context and the sans-I/O session ---------------------------------------
@pytest.mark.parametrize("memory_files", [True, False], ids=["memfd", "private-tempdir"])
def test_certificates_and_keys_load_from_paths_pem_and_der(ca, server_cert, tmp_path, monkeypatch, memory_files):
    if not memory_files:
        monkeypatch.delattr(os, "memfd_create", raising=False)  # as on a system without them
    cert_pem, key_pem = server_cert.cert_chain_pems[0].bytes(), server_cert.private_key_pem.bytes()
    (tmp_path / "cert.pem").write_bytes(cert_pem)
    (tmp_path / "key.pem").write_bytes(key_pem)
    (tmp_path / "both.pem").write_bytes(key_pem + cert_pem)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(tmp_path / "cert.pem"), str(tmp_path / "key.pem"))
    context.load_cert_chain(str(tmp_path / "both.pem"))
    context.load_cert_chain(bytearray(cert_pem), key_pem)
    context.load_cert_chain(key_pem + cert_pem)  # MicroPython: one PEM with both
    context.load_cert_chain(der(cert_pem), der(key_pem))
    with pytest.raises(ssl.SSLError):
        context.load_cert_chain(cert_pem, der(ca.issue_cert("other.test").private_key_pem.bytes()))  # not its key
    pem, der_ca = ca.cert_pem.bytes(), der(ca.cert_pem.bytes())
    for given in (dict(cadata=pem), dict(cadata=pem.decode()), dict(cadata=der_ca), dict(cafile=pem)):
        client = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        client.load_verify_locations(**given)
        assert client.get_ca_certs(binary_form=True) == [der_ca]
    with pytest.raises(ssl.SSLError):
        ssl.SSLContext().set_ciphers(["TLS-NO-SUCH-SUITE"])


def test_tls_session_runs_a_conversation_without_io(ca, server_cert):
    server_context = std_ssl.SSLContext(std_ssl.PROTOCOL_TLS_SERVER)
    server_cert.configure_cert(server_context)
    client = ssl.TlsSession(client_context(ca), server_hostname="echo.test")
    server = ssl.TlsSession(server_context, server_side=True)

    def carry(source, destination):
        data = source.outgoing()
        if data:  # b"" would say the stream ended
            destination.receive(data)

    for _ in range(5):
        done = (client.handshake(), server.handshake())
        carry(client, server)
        carry(server, client)
        if done == (True, True):
            break
    assert client.handshake_done and server.handshake_done
    assert client.read() is None  # session tickets only: nothing to read yet
    assert client.write(b"a" * 40000) == RECORD  # one record per call
    carry(client, server)
    assert server.read() == b"a" * RECORD
    server.close()
    carry(server, client)
    assert client.read() == b""
    client.receive(b"")
    assert client.peer_ended


class MemoryPeer:
    """A stand-in for a modem socket, for what end-to-end timing cannot pin down: a CPython TLS
    server behind it in memory, run by hand with ``serve()``."""
    type = atsock.SOCK_STREAM

    def __init__(self, context):
        self.server = ssl.TlsSession(context, server_side=True)
        self.to_server, self.to_client = bytearray(), bytearray()
        self.server_error = None
        self.gone = False
        self.timeout = None

    def serve(self):
        if self.to_server:
            self.server.receive(bytes(self.to_server))
            self.to_server.clear()
        try:
            self.server.handshake()
        except ssl.SSLError as exc:
            self.server_error, self.gone = exc, True  # it says why, then drops the connection
        self.to_client += self.server.outgoing()

    def send(self, data):
        if self.gone:
            raise ConnectionResetError(104, "the peer is gone")
        self.to_server += data
        return len(data)

    def recv(self, size):
        if not self.to_client and not self.gone:
            self.serve()
        data = bytes(self.to_client[:size])
        del self.to_client[:size]
        return data

    def _poll_mask(self):
        return (POLLIN if self.to_client or self.gone else 0) | POLLOUT

    def getpeername(self):
        return ("127.0.0.1", 8883)

    def gettimeout(self):
        return self.timeout

    def settimeout(self, value):
        self.timeout = value

    def close(self):
        self.gone = True


def test_a_write_the_peer_refused_says_why_when_the_peer_did(ca, server_cert):
    """A server that wanted a client certificate sends its alert and drops the connection; the
    next write meets the dropped connection first, and reports the alert that explains it."""
    context = std_ssl.SSLContext(std_ssl.PROTOCOL_TLS_SERVER)
    server_cert.configure_cert(context)
    context.verify_mode = std_ssl.CERT_REQUIRED
    ca.configure_trust(context)
    peer = MemoryPeer(context)
    tls = client_context(ca).wrap_socket(peer, server_hostname="echo.test")  # TLS 1.3: done on our side
    peer.serve()  # the server reads our last flight: no certificate
    assert isinstance(peer.server_error, std_ssl.SSLError)
    with pytest.raises(ssl.SSLError, match="CERTIFICATE_REQUIRED") as refused:
        tls.write(b"ping")
    assert isinstance(refused.value.__cause__, ConnectionResetError)
