"""Every socket-like class atsock has takes its arguments through the plain socket's checks
(:mod:`atsock.surface.checked`): found by walking the package, so that a new class cannot miss them. In a
live state each refuses what its CPython counterpart refuses (``socket.socket``, ``ssl.SSLSocket``)
and refused calls take nothing from the stream; host TLS sockets unwrap as CPython's do."""
import errno
import importlib
import inspect
import pkgutil
import socket as std_socket
import ssl as std_ssl
import threading

import pytest

import atsock
import atsock.quecpython
from atsock import ssl
from atsock.surface import usock
from atsock.surface.checked import CHECKS, SocketArguments, is_checked

from .conftest import TcpServer
from .test_hostile import LyingInt, NoTruth
from .test_tls import ca, client_context, server_cert  # noqa: F401 (fixtures)

WAIT = 10
PATTERN = bytes(range(256)) * 12  # what the peer sends each client first


# --- every class ---------------------------------------------------------------------------------
def socket_like_classes():
    """The public classes defined anywhere in atsock that have a socket's ``recv`` or ``settimeout``."""
    found = set()
    for info in pkgutil.walk_packages(atsock.__path__, "atsock."):
        if info.name.endswith(".__main__"):
            continue
        module = importlib.import_module(info.name)
        for name, value in vars(module).items():
            if inspect.isclass(value) and value.__module__ == module.__name__ and not name.startswith("_") \
                    and (hasattr(value, "recv") or hasattr(value, "settimeout")):
                found.add(value)
    return found


def test_every_socket_like_class_runs_the_plain_sockets_checks():
    classes = socket_like_classes()
    assert {usock.socket, atsock.quecpython.socket, ssl.SSLSocket, ssl.HostTLSSocket, ssl.ModuleTLSSocket,
            ssl.TLSListener} <= classes
    for cls in classes:
        assert issubclass(cls, SocketArguments), f"{cls.__module__}.{cls.__qualname__} skips the argument checks"
        for name in CHECKS:
            if hasattr(cls, name):
                assert is_checked(getattr(cls, name)), f"{cls.__qualname__}.{name}"


def test_a_new_class_gets_the_checks_without_a_line_of_its_own():
    class Stream(SocketArguments):
        def recv(self, bufsize, flags=0):
            return bufsize, flags

        def settimeout(self, value):
            return value

    bufsize, flags = Stream().recv(LyingInt(3))
    assert (bufsize, flags) == (3, 0) and type(bufsize) is int  # made plain: it cannot format itself
    for call, refused in ((lambda s: s.recv(-1), ValueError), (lambda s: s.recv("3"), TypeError),
                          (lambda s: s.recv(2 ** 70), OverflowError), (lambda s: s.settimeout(float("nan")), ValueError)):
        with pytest.raises(refused):
            call(Stream())
    assert str(inspect.signature(Stream.recv)) == "(self, bufsize, flags=0)"


# --- each, live, against CPython -----------------------------------------------------------------
def outcome(call):
    try:
        return "value", call()
    except Exception as exc:  # what a call raises is what is compared
        return "raised", type(exc)


# refused by CPython's socket and its SSLSocket alike, before the stream is touched (but
# setblocking(None) and setblocking(1.5), which CPython takes from 3.12 on: then atsock does too)
EVERY_SOCKET = [("recv", (-1,)), ("recv", (1.5,)), ("recv", ("10",)), ("recv", (None,)), ("recv", (2 ** 70,)),
                ("recv", (0,)), ("recv_into", (b"read-only",)), ("recv_into", ("text",)), ("send", (5,)),
                ("send", ([1, 2],)), ("send", (None,)), ("sendall", (7,)), ("sendall", (None,)),
                ("settimeout", (float("nan"),)), ("settimeout", (-1,)), ("settimeout", (float("inf"),)),
                ("settimeout", ("1",)), ("setblocking", (None,)), ("setblocking", (1.5,)),
                ("setblocking", (NoTruth(),)), ("setsockopt", (atsock.SOL_SOCKET, atsock.SO_KEEPALIVE, None)),
                ("getsockopt", (1, 2, 5000)), ("getsockopt", ("1", 2))]
# what CPython's SSLSocket refuses besides: flags, and addresses on a connected stream
TLS_ONLY = [("recv", (1, atsock.MSG_PEEK)), ("recv", (1, atsock.MSG_DONTWAIT)), ("send", (b"x", atsock.MSG_DONTWAIT)),
            ("sendall", (b"x", atsock.MSG_DONTWAIT)), ("recv_into", (bytearray(4), 0, atsock.MSG_PEEK)),
            ("recvfrom", (10,)), ("recvfrom_into", (bytearray(4),)), ("sendto", (b"x", ("127.0.0.1", 80)))]
LISTENING = [("settimeout", (float("nan"),)), ("settimeout", ("1",)), ("setblocking", (None,)),
             ("setblocking", (NoTruth(),)), ("listen", ("2",)), ("listen", (2 ** 40,)), ("listen", (None,)),
             ("getsockopt", (1, 2, 5000)),
             ("setsockopt", (atsock.SOL_SOCKET, atsock.SO_REUSEADDR, None)), ("bind", (("127.0.0.1", "80"),)),
             ("bind", (("127.0.0.1", 70000),)), ("bind", ("127.0.0.1:80",))]


def compare(ours, theirs, calls):
    for method, args in calls:
        mine, reference = outcome(lambda: getattr(ours, method)(*args)), \
            outcome(lambda: getattr(theirs, method)(*args))
        assert mine == reference, f"{type(ours).__name__}.{method}{args!r}: atsock {mine}, CPython {reference}"
    assert ours.gettimeout() == theirs.gettimeout()


def read_exactly(sock, count: int) -> bytes:
    data = b""
    while len(data) < count:
        piece = sock.recv(count - len(data))
        assert piece, "the stream ended early"
        data += piece
    return data


def sends_the_pattern(tls):
    tls.sendall(PATTERN)
    while tls.recv(65536):
        pass


@pytest.fixture
def pattern_server(server_cert):
    """A CPython TLS server on 127.0.0.1 that sends PATTERN to each client, then reads until it leaves."""
    context = std_ssl.SSLContext(std_ssl.PROTOCOL_TLS_SERVER)
    server_cert.configure_cert(context)

    def serve(conn):
        with context.wrap_socket(conn, server_side=True) as tls:
            sends_the_pattern(tls)

    server = TcpServer(serve)
    yield server
    server.close()


def cpython_client(ca, port):
    context = std_ssl.create_default_context(cadata=ca.cert_pem.bytes().decode())
    return context.wrap_socket(std_socket.create_connection(("127.0.0.1", port), timeout=WAIT),
                               server_hostname="echo.test")


def test_host_tls_refuses_as_cpythons_sslsocket_and_loses_nothing(modem, ca, pattern_server):
    theirs = cpython_client(ca, pattern_server.port)
    raw = modem.socket()
    raw.settimeout(WAIT)
    raw.connect(("127.0.0.1", pattern_server.port))
    ours = client_context(ca).wrap_socket(raw, server_hostname="echo.test")
    ours.settimeout(WAIT)
    assert ours.recv(1) == theirs.recv(1) == PATTERN[:1]  # the pattern is arriving on both
    compare(ours, theirs, EVERY_SOCKET + TLS_ONLY)
    ours.settimeout(WAIT)
    theirs.settimeout(WAIT)
    assert read_exactly(ours, len(PATTERN) - 1) == read_exactly(theirs, len(PATTERN) - 1) == PATTERN[1:]
    ours.close()
    theirs.close()


@pytest.mark.parametrize("kind", ["quectel", "esp-2.2"])
def test_module_tls_refuses_as_cpythons_sslsocket_and_loses_nothing(kind, ca, pattern_server):
    from .test_module_tls import open_module, verifying
    fm, modem = open_module(kind, ca.cert_pem.bytes())
    try:
        theirs = cpython_client(ca, pattern_server.port)
        options = ssl.ModuleTLS(ca_slot=0) if kind.startswith("esp") else True  # (ESP: the CA in its flash)
        ours = verifying(ca.cert_pem.bytes()).wrap_socket(modem.socket(), server_hostname="echo.test",
                                                          module_tls=options)
        ours.settimeout(WAIT)
        ours.connect(("127.0.0.1", pattern_server.port))
        assert ours.recv(1) == theirs.recv(1) == PATTERN[:1]
        compare(ours, theirs, EVERY_SOCKET + TLS_ONLY)
        ours.settimeout(WAIT)
        theirs.settimeout(WAIT)
        assert read_exactly(ours, len(PATTERN) - 1) == read_exactly(theirs, len(PATTERN) - 1) == PATTERN[1:]
        with pytest.raises(OSError) as info:
            ours.unwrap()  # no AT command ends TLS and keeps the connection
        assert info.value.errno == errno.EOPNOTSUPP
        ours.close()
        theirs.close()
    finally:
        modem.close()
        fm.close()


def test_the_tls_listener_refuses_as_cpythons(modem, server_cert):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    reference_context = std_ssl.SSLContext(std_ssl.PROTOCOL_TLS_SERVER)
    for each in (context, reference_context):
        server_cert.configure_cert(each)
    plain = modem.socket()
    plain.bind(("", 0))
    plain.listen(2)
    ours = context.wrap_socket(plain, server_side=True)
    assert isinstance(ours, ssl.TLSListener)
    listening = std_socket.create_server(("127.0.0.1", 0))
    theirs = reference_context.wrap_socket(listening, server_side=True)
    compare(ours, theirs, LISTENING)
    ours.close()
    theirs.close()


def test_the_plain_socket_still_refuses_as_cpythons(modem, echo_server):
    ours = modem.socket()
    ours.settimeout(WAIT)
    ours.connect(("127.0.0.1", echo_server.port))
    theirs = std_socket.create_connection(("127.0.0.1", echo_server.port), timeout=WAIT)
    compare(ours, theirs, [call for call in EVERY_SOCKET if call[0] not in ("getsockopt",)])
    ours.close()
    theirs.close()


# --- unwrap --------------------------------------------------------------------------------------
class UnwrappingServer(TcpServer):
    """On 127.0.0.1: TLS, reads b"bye" and then the client's close_notify, answers with its own
    close_notify and b"in the clear" in one write (so they may reach the client in one piece),
    then reads plain text until the client leaves; ``heard`` gets what it read in the clear."""

    def __init__(self, server_cert):
        self.context = std_ssl.SSLContext(std_ssl.PROTOCOL_TLS_SERVER)
        server_cert.configure_cert(self.context)
        self.heard = []
        super().__init__(self.serve)

    def serve(self, conn):
        incoming, outgoing = std_ssl.MemoryBIO(), std_ssl.MemoryBIO()
        tls = self.context.wrap_bio(incoming, outgoing, server_side=True)

        def step(call):
            while True:
                try:
                    return call()
                except std_ssl.SSLWantReadError:
                    conn.sendall(outgoing.read())
                    data = conn.recv(65536)
                    if not data:
                        raise EOFError("the client left")
                    incoming.write(data)

        step(tls.do_handshake)
        conn.sendall(outgoing.read())
        said = b""
        while len(said) < 3:
            said += step(lambda: tls.read(3 - len(said)))
        assert said == b"bye"
        assert step(tls.read) == b""  # the client's close_notify
        tls.unwrap()
        conn.sendall(outgoing.read() + b"in the clear")
        plain = incoming.read()  # (anything the client sent after its close_notify)
        while data := conn.recv(65536):
            plain += data
        self.heard.append(plain)


def unwrap_and_talk(tls, read):
    tls.sendall(b"bye")
    plain = tls.unwrap()
    got = read(plain, 12)
    plain.sendall(b"thanks")
    return got, plain


def test_host_tls_unwraps_as_cpythons(modem, ca, server_cert):
    server = UnwrappingServer(server_cert)
    try:
        theirs = cpython_client(ca, server.port)
        expected, reference_plain = unwrap_and_talk(theirs, read_exactly)
        with pytest.raises(ValueError):
            theirs.unwrap()  # there is no TLS left to unwrap
        reference_plain.close()
        raw = modem.socket()
        raw.settimeout(WAIT)
        raw.connect(("127.0.0.1", server.port))
        ours = client_context(ca).wrap_socket(raw, server_hostname="echo.test")
        got, plain = unwrap_and_talk(ours, lambda sock, count: sock.read(count))
        assert plain is raw and got == expected == b"in the clear"
        with pytest.raises(ValueError):
            ours.unwrap()
        with pytest.raises(ValueError):
            ours.recv(1)
        plain.close()
        for _ in range(100):
            if len(server.heard) == 2:
                break
            threading.Event().wait(0.05)
        assert server.heard == [b"thanks", b"thanks"]
    finally:
        server.close()
