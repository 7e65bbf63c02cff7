"""atsock.asyncio against CPython's asyncio where a caller or a peer misbehaves: a datagram sent to
no address, a TLS handshake that never completes, IPv6 literals and names with several addresses.
Each is compared with what CPython's own loop does on the host, run in the same test."""
import asyncio as host_asyncio
import gc
import socket as host_socket

import pytest
import trustme

import atsock
import atsock.ssl
from atsock import asyncio
from fakemodem import FakeModem

from .conftest import TcpServer, UdpEcho, echo_handler, emulator_options, modem_settings
from .test_lost_answers import nothing_loud

WAIT = 30


def run(coro, loop_errors=None, reference=False):
    """Run ``coro`` on a fresh loop: the modem's (atsock.asyncio.run), or with ``reference`` the
    host's plain CPython loop; what reaches the loop's exception handler goes to ``loop_errors``."""
    async def main():
        if loop_errors is not None:
            host_asyncio.get_running_loop().set_exception_handler(
                lambda loop, context: loop_errors.append((context.get("message"), type(context.get("exception")))))
        return await asyncio.wait_for(coro, WAIT)

    return (host_asyncio.run if reference else asyncio.run)(main())


# --- 1. a datagram to an address that is no (host, port) ------------------------------------------
class Datagrams(host_asyncio.DatagramProtocol):
    def __init__(self):
        self.events = []
        self.received = []
        self.lost = host_asyncio.get_running_loop().create_future()

    def datagram_received(self, data, addr):
        self.received.append(data)

    def error_received(self, exc):
        self.events.append(("error_received", kind(exc)))

    def connection_lost(self, exc):
        self.events.append(("connection_lost", kind(exc)))
        self.lost.set_result(None)


def kind(exc):
    """An exception's type, or OSError for any of its subclasses (CPython says gaierror where the
    modem says EAFNOSUPPORT: both are the network's refusal)."""
    if exc is None:
        return None
    return OSError if isinstance(exc, OSError) else type(exc)


BAD_ADDRESSES = [("127.0.0.1", 70000), ("127.0.0.1", -1), ("127.0.0.1", "9"), "9", ("127.0.0.1",), None,
                 ("127.0.0.1", 9, 0, 0), ("::1", 9), 9, ("127.0.0.1", 2 ** 70)]


def on_the_host(factory, **kwargs):
    """CPython's own ``loop.create_datagram_endpoint``: the reference."""
    return host_asyncio.get_running_loop().create_datagram_endpoint(factory, **kwargs)


async def after_a_bad_sendto(create_endpoint, address, good):
    """What the protocol was told after ``sendto(b"x", address)``, whether the transport then
    says it is closing, what loop errors came, and whether a good datagram still goes out."""
    transport, protocol = await create_endpoint(Datagrams, local_addr=("127.0.0.1", 0))
    try:
        transport.sendto(b"x", address)
        raised = None
    except Exception as exc:
        raised = type(exc)
    for _ in range(40):  # until the modem has answered the send (or refused it)
        await host_asyncio.sleep(0.05)
        if protocol.events:
            break
    closing = transport.is_closing()
    if not closing:
        transport.sendto(b"still here", good)
        for _ in range(100):
            if protocol.received:
                break
            await host_asyncio.sleep(0.05)
    transport.close()
    await host_asyncio.wait_for(protocol.lost, WAIT)
    return raised, protocol.events[:-1] if not closing else protocol.events, closing, bool(protocol.received)


def test_a_datagram_to_no_address_is_reported_as_cpython_does(modem):
    """CPython: a bad port or shape is a fatal error (the loop's handler, then connection_lost);
    an address the network refuses reaches error_received and later datagrams go. Nothing is
    dropped silently: a transport that is not closing still sends."""
    echo = UdpEcho()
    try:
        for address in BAD_ADDRESSES:
            cpython_errors, atsock_errors = [], []
            expected = run(after_a_bad_sendto(on_the_host, address, ("127.0.0.1", echo.port)), cpython_errors,
                           reference=True)
            got = run(after_a_bad_sendto(asyncio.create_datagram_endpoint, address, ("127.0.0.1", echo.port)),
                      atsock_errors)
            assert got == expected, (address, got, expected)
            assert atsock_errors == cpython_errors, address
    finally:
        echo.close()


# --- 2. a TLS handshake that never completes -------------------------------------------------------
def silent_client_context():
    context = atsock.ssl.SSLContext(atsock.ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = atsock.ssl.CERT_NONE
    return context


async def handshake_that_times_out(open_connection, port):
    try:
        await open_connection("127.0.0.1", port, ssl=silent_client_context(), ssl_handshake_timeout=0.5)
    except Exception as exc:
        raised = type(exc)
    else:
        raised = None
    await host_asyncio.sleep(1)  # the loop goes on: whatever the abort left behind comes out now
    gc.collect()
    return raised


def test_a_client_handshake_time_out_is_raised_and_nothing_else(modem):
    """A peer that never answers the ClientHello: the opener gets CPython's error, and nothing is
    logged or handed to the loop's exception handler (CPython logs nothing)."""
    silent = TcpServer(lambda conn: conn.recv(65536) and conn.recv(65536))  # reads, never answers
    try:
        with nothing_loud():
            cpython_errors, atsock_errors = [], []
            expected = run(handshake_that_times_out(host_asyncio.open_connection, silent.port), cpython_errors,
                           reference=True)
            got = run(handshake_that_times_out(asyncio.open_connection, silent.port), atsock_errors)
            gc.collect()
        assert got == expected is not None and issubclass(got, OSError)
        assert atsock_errors == cpython_errors == []
    finally:
        silent.close()


def server_context():
    context = atsock.ssl.SSLContext(atsock.ssl.PROTOCOL_TLS_SERVER)
    trustme.CA().issue_cert("echo.test").configure_cert(context)
    return context


def test_a_server_handshake_time_out_drops_the_client_quietly(modem):
    served = []

    async def main():
        server = await asyncio.start_server(lambda r, w: served.append(w), "0.0.0.0", 0, ssl=server_context(),
                                            ssl_handshake_timeout=0.5)
        port = server.sockets[0].getsockname()[1]

        def host_client():  # plain TCP from the host: no ClientHello
            with host_socket.create_connection(("127.0.0.1", port), timeout=WAIT) as client:
                return client.recv(1)  # b"" once the server gives up on the handshake and drops it

        ended = await host_asyncio.get_running_loop().run_in_executor(None, host_client)
        await host_asyncio.sleep(1)
        gc.collect()
        server.close()
        await server.wait_closed()
        return ended

    with nothing_loud():
        loop_errors = []
        assert run(main(), loop_errors) == b""
        gc.collect()
    assert loop_errors == [] and served == []


# --- 3. IPv6, and names with several addresses --------------------------------------------------
NAMES = {"v6.test": ["::1"], "dual.test": ["127.0.0.1", "::1"], "second.test": ["127.0.0.2", "127.0.0.1"],
         "nowhere.test": ["127.0.0.2", "127.0.0.3"]}


def infos(addresses, port):
    return [(host_socket.AF_INET6 if ":" in ip else host_socket.AF_INET, host_socket.SOCK_STREAM, 6, "",
             (ip, port, 0, 0) if ":" in ip else (ip, port)) for ip in addresses]


async def connect_outcome(open_connection, host, port, names=None):
    """Where ``open_connection(host, port)`` got to: the peer's address, or the error's type. On
    the host loop ``names`` stand in for its resolver (traffic stays on loopback)."""
    if names is not None:
        loop = host_asyncio.get_running_loop()

        async def getaddrinfo(name, port, *args, **kwargs):
            return infos(names[name], port)

        loop.getaddrinfo = getaddrinfo
    try:
        reader, writer = await open_connection(host, port)
    except Exception as exc:
        return type(exc)
    peer = writer.get_extra_info("peername")
    writer.write(b"echo")
    echoed = await reader.readexactly(4)
    writer.close()
    await writer.wait_closed()
    return peer[0], echoed


def dual_modem(dialect):
    options = dict(emulator_options(dialect), hosts=dict(emulator_options(dialect)["hosts"], **NAMES))
    if dialect == "esp8285":
        options["firmware"] = "2.2"
    settings = dict(modem_settings(dialect), **({"ip_version": "ipv4v6"} if dialect == "quectel" else {"ipv6": True}))
    return options, settings


@pytest.fixture
def echo_on_v6_only():
    """An echo server on ::1 whose port refuses on 127.0.0.1: that port is held there by a socket
    bound and not listening (another program's server could be listening on it otherwise)."""
    while True:
        server = TcpServer(echo_handler, host="::1")
        refuser = host_socket.socket(host_socket.AF_INET)
        try:
            refuser.bind(("127.0.0.1", server.port))
            break
        except OSError:  # taken on 127.0.0.1: another port
            refuser.close()
            server.close()
    yield server
    refuser.close()
    server.close()


@pytest.mark.parametrize("host", ["::1", "v6.test"])
def test_open_connection_reaches_ipv6_as_cpython_does(dialect, echo_on_v6_only, host):
    options, settings = dual_modem(dialect)
    port = echo_on_v6_only.port
    with FakeModem(dialect, **options) as fm, atsock.open_modem(fm.port, dialect=dialect, **settings):
        got = run(connect_outcome(asyncio.open_connection, host, port))
        expected = run(connect_outcome(host_asyncio.open_connection, host, port, NAMES), reference=True)
    assert got == expected == ("::1", b"echo")


@pytest.mark.parametrize("host", ["dual.test", "second.test", "nowhere.test"])
def test_each_address_of_a_name_is_tried_in_turn_as_cpython_does(echo_on_v6_only, host):
    """(Quectel: its DNS answers every address; ESP-AT's AT+CIPDOMAIN answers one.) The echo
    server listens on ::1 only, so 127.0.0.1 refuses; 127.0.0.2 and .3 refuse everywhere."""
    options, settings = dual_modem("quectel")
    v4 = TcpServer(echo_handler)  # a second echo server: 127.0.0.1 answers for "second.test"
    names = {name: addresses for name, addresses in NAMES.items()}
    try:
        port = echo_on_v6_only.port if host == "dual.test" else v4.port
        with FakeModem("quectel", **options) as fm, atsock.open_modem(fm.port, dialect="quectel", **settings):
            got = run(connect_outcome(asyncio.open_connection, host, port))
            expected = run(connect_outcome(host_asyncio.open_connection, host, port, names), reference=True)
    finally:
        v4.close()
    assert got == expected
    assert expected in (("::1", b"echo"), ("127.0.0.1", b"echo"), OSError)
