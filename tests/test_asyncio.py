"""atsock.asyncio end to end: streams, servers, TLS and UDP through the modem (asyncio -> engine ->
pty -> fakemodem -> real peers on 127.0.0.1), cancellation that leaves the channel usable, many
tasks on few sockets, and MicroPython asyncio code run through load()/install()."""
import errno
import hashlib
import os
import socket as host_socket
import ssl as host_ssl
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import trustme

import atsock
from atsock import asyncio, micropython
from atsock.tls import SSLContext, PROTOCOL_TLS_CLIENT, PROTOCOL_TLS_SERVER

from .conftest import open_ids

MIB = 2 ** 20
WAIT = 30  # seconds any one test may take before it counts as hung


def run(coro):
    """Run ``coro`` on a fresh host event loop, failing (not hanging) if it takes over WAIT seconds."""
    return asyncio.run(asyncio.wait_for(coro, WAIT))


def commands(fake_modem, *names):
    return sum(1 for line in fake_modem.received_commands if line.startswith(names))


OPENS = ("AT+QIOPEN", "AT+CIPSTART")
FETCHES = ("AT+QIRD", "AT+CIPRECVDATA")


async def pump(writer, data: bytes, piece: int = 16 * 1024):
    for start in range(0, len(data), piece):
        writer.write(data[start:start + piece])
        await writer.drain()


# --- client and server streams --------------------------------------------------------------------
def test_client_stream_echoes_one_mebibyte_through_the_modem(modem, fake_modem, echo_server):
    payload = os.urandom(MIB)
    opens = commands(fake_modem, *OPENS)

    async def main():
        reader, writer = await asyncio.open_connection("echo.test", echo_server.port)  # the modem's DNS
        assert writer.get_extra_info("peername") == ("127.0.0.1", echo_server.port)
        assert isinstance(writer.get_extra_info("socket"), atsock.socket)
        sending = asyncio.create_task(pump(writer, payload))
        echoed = await reader.readexactly(MIB)
        await sending
        writer.close()
        await writer.wait_closed()
        return echoed

    echoed = run(main())
    assert hashlib.sha256(echoed).digest() == hashlib.sha256(payload).digest()
    assert commands(fake_modem, *OPENS) == opens + 1  # through the modem, not the host's network
    assert open_ids(fake_modem) == []


def test_server_stream_echoes_one_mebibyte_to_a_host_client(modem):
    payload = os.urandom(MIB)
    result = {}

    async def echo(reader, writer):
        while True:
            data = await reader.read(65536)
            if not data:
                break
            writer.write(data)
            await writer.drain()
        writer.close()
        await writer.wait_closed()

    def client(port):  # (no half-close: a module drops the whole link when its peer closes a side)
        with host_socket.create_connection(("127.0.0.1", port), timeout=WAIT) as sock:
            sender = threading.Thread(target=sock.sendall, args=(payload,))
            sender.start()
            digest, size = hashlib.sha256(), 0
            while size < MIB:
                data = sock.recv(65536)
                if not data:
                    break
                digest.update(data)
                size += len(data)
            sender.join()
            result.update(size=size, digest=digest.digest())

    async def main():
        async with await asyncio.start_server(echo, "0.0.0.0", 0) as server:
            port = server.sockets[0].getsockname()[1]
            thread = threading.Thread(target=client, args=(port,))
            thread.start()
            await asyncio.get_running_loop().run_in_executor(None, thread.join)
        assert not server.is_serving()

    run(main())
    assert result == {"size": MIB, "digest": hashlib.sha256(payload).digest()}


def test_readexactly_gathers_many_small_chunks(modem, fake_modem, tcp_server):
    pieces = [bytes([i]) * (1 + i % 7) for i in range(120)]

    def trickle(conn):
        for piece in pieces:
            conn.sendall(piece)
            time.sleep(0.002)  # each piece its own notice and fetch, as on a slow radio link
        conn.recv(1)

    server = tcp_server(trickle)
    fetches = commands(fake_modem, *FETCHES)

    async def main():
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        first = await reader.readexactly(10)
        rest = await reader.readexactly(sum(map(len, pieces)) - 10)
        writer.close()
        return first + rest

    assert run(main()) == b"".join(pieces)
    assert commands(fake_modem, *FETCHES) - fetches > 10  # it did arrive in many pieces


def test_readline_with_lines_split_at_every_byte(modem, tcp_server):
    line = b"temperature=21.5;humidity=40\n"

    def split_everywhere(conn):
        for cut in range(len(line) + 1):
            conn.sendall(line[:cut])
            time.sleep(0.005)
            conn.sendall(line[cut:])
        conn.sendall(line * 3 + b"no newline at the end")  # several lines in one piece, then EOF

    server = tcp_server(split_everywhere)

    async def main():
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        lines = [await reader.readline() for _ in range(len(line) + 1 + 3)]
        tail = await reader.readline()
        end = await reader.readline()
        writer.close()
        return lines, tail, end

    lines, tail, end = run(main())
    assert lines == [line] * (len(line) + 4)
    assert tail == b"no newline at the end" and end == b""


# --- the end of a connection, as CPython's streams report it --------------------------------------
def test_peer_close_while_reading_is_end_of_stream(modem, tcp_server):
    server = tcp_server(lambda conn: conn.sendall(b"last words"))

    async def main():
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        with pytest.raises(asyncio.IncompleteReadError) as info:
            await reader.readexactly(100)
        assert info.value.partial == b"last words" and info.value.expected == 100
        assert await reader.read() == b""
        assert await reader.readline() == b""
        assert reader.at_eof()
        writer.close()
        await writer.wait_closed()

    run(main())


def test_peer_close_while_writing_is_a_connection_error(modem, tcp_server):
    server = tcp_server(lambda conn: conn.recv(10))  # reads a little, then closes

    async def main():
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        with pytest.raises(OSError) as info:
            for _ in range(2000):  # bounded: the error comes once the modem has seen the close
                writer.write(b"x" * 1024)
                await writer.drain()
                await asyncio.sleep(0.001)
        writer.close()
        with pytest.raises(OSError):
            await writer.wait_closed()  # as CPython: the close waiter holds the connection's error
        return info.value

    error = run(main())
    # a closed link refuses sends (EPIPE); ESP-AT may say SEND FAIL first, which is EIO
    assert isinstance(error, ConnectionError) or error.errno == errno.EIO


# --- cancellation never leaves the AT channel half-way --------------------------------------------
def test_wait_for_on_a_read_loses_nothing_and_the_channel_goes_on(modem, tcp_server, echo_server):
    release = threading.Event()

    def late(conn):
        release.wait(WAIT)
        conn.sendall(b"worth the wait")
        conn.recv(1)

    server = tcp_server(late)

    async def main():
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(reader.read(100), 0.2)
        release.set()
        assert await reader.readexactly(14) == b"worth the wait"
        echo_reader, echo_writer = await asyncio.open_connection("127.0.0.1", echo_server.port)
        echo_writer.write(b"still in step")
        assert await echo_reader.readexactly(13) == b"still in step"
        for w in (writer, echo_writer):
            w.close()
            await w.wait_closed()

    run(main())


def test_a_drain_cancelled_half_way_loses_and_repeats_nothing(modem, echo_server):
    payload = os.urandom(256 * 1024)

    async def main():
        reader, writer = await asyncio.open_connection("127.0.0.1", echo_server.port)
        writer.write(payload)
        draining = asyncio.create_task(writer.drain())  # above the high-water mark: it waits
        await asyncio.sleep(0.01)
        draining.cancel()  # the caller stops waiting; what write() took is still the transport's to send
        echoed = await reader.readexactly(len(payload))
        writer.write(b"and then some")
        rest = await reader.readexactly(13)
        writer.close()
        await writer.wait_closed()
        return echoed, rest

    echoed, rest = run(main())
    assert echoed == payload and rest == b"and then some"


def test_wait_for_on_a_connect_leaves_the_channel_usable(modem, fake_modem, echo_server):
    async def main():
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(asyncio.open_connection("127.0.0.66", 80), 0.3)  # never answers
        reader, writer = await asyncio.open_connection("127.0.0.1", echo_server.port)
        writer.write(b"after the abandoned connect")
        assert await reader.readexactly(27) == b"after the abandoned connect"
        writer.close()
        await writer.wait_closed()

    run(main())
    assert any("127.0.0.66" in line for line in fake_modem.received_commands)
    # the abandoned open is settled in the background (aborted, or closed once the module answers)
    deadline = time.monotonic() + WAIT
    while open_ids(fake_modem) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert open_ids(fake_modem) == []


# --- many at once ---------------------------------------------------------------------------------
def test_five_client_tasks_and_a_server_on_one_modem(modem, echo_server):
    connected = []
    all_connected = None  # an asyncio.Event, made on the loop that waits for it (Python 3.9 binds it at birth)

    async def client(number):
        reader, writer = await asyncio.open_connection("127.0.0.1", echo_server.port)
        connected.append(number)
        if len(connected) == 5:
            all_connected.set()
        for round_trip in range(20):
            message = os.urandom(1 + (number * 97 + round_trip * 31) % 3000)
            writer.write(message)
            await writer.drain()
            assert await reader.readexactly(len(message)) == message
        writer.close()
        await writer.wait_closed()
        return number

    async def shout(reader, writer):
        writer.write((await reader.readline()).upper())
        await writer.drain()
        writer.close()

    def visit(port, name):
        answer = b""
        with host_socket.create_connection(("127.0.0.1", port), timeout=WAIT) as sock:
            sock.sendall(name + b"\n")
            while not answer.endswith(b"\n"):
                data = sock.recv(100)
                if not data:
                    break
                answer += data
        return answer

    async def main():
        nonlocal all_connected
        all_connected = asyncio.Event()
        loop = asyncio.get_running_loop()
        async with await asyncio.start_server(shout, None, 0) as server:
            port = server.sockets[0].getsockname()[1]
            clients = asyncio.gather(*(client(n) for n in range(5)))
            # the module has ids for everyone at once only where it has more than 5 + 1 + visitors;
            # and the visitors come once the clients are connected: a client's open and a visitor
            # could otherwise be given the same id, by the host and by the module
            if modem.max_sockets < 9:
                assert await clients == list(range(5))
            await all_connected.wait()
            visits = [loop.run_in_executor(None, visit, port, name) for name in (b"ada", b"grace")]
            assert await asyncio.gather(*visits) == [b"ADA\n", b"GRACE\n"]
            assert await clients == list(range(5))

    run(main())


def test_a_thousand_tasks_on_five_sockets_do_not_starve_the_modems_own_notices(modem, echo_server, tcp_server):
    pusher = tcp_server(lambda conn: (time.sleep(0.3), conn.sendall(b"pushed by the peer\n")))
    engine_tasks = []

    async def engine_task_count():
        return len(asyncio.all_tasks())

    async def main():
        streams = [await asyncio.open_connection("127.0.0.1", echo_server.port) for _ in range(4)]
        locks = [asyncio.Lock() for _ in streams]
        push_reader, push_writer = await asyncio.open_connection("127.0.0.1", pusher.port)
        stop = asyncio.Event()
        trips = []

        async def worker(number):
            reader, writer = streams[number % 4]
            while True:
                async with locks[number % 4]:
                    message = b"%04d:" % number + os.urandom(27)
                    writer.write(message)
                    await writer.drain()
                    assert await reader.readexactly(32) == message
                trips.append(number)
                if stop.is_set():
                    return
                await asyncio.sleep(0)

        async def watch_the_peer():
            line = await push_reader.readline()  # a data notice and a close notice from the module
            end = await push_reader.read()
            stop.set()
            return line, end

        async def sample_engine():
            while not stop.is_set():
                engine_tasks.append(await asyncio.wrap_future(modem.submit(engine_task_count())))
                await asyncio.sleep(0.05)

        workers = [asyncio.create_task(worker(n)) for n in range(1000)]
        sampler = asyncio.create_task(sample_engine())
        line, end = await watch_the_peer()
        await asyncio.gather(*workers)
        await sampler
        for _, writer in streams + [(push_reader, push_writer)]:
            writer.close()
            await writer.wait_closed()
        return line, end, trips

    line, end, trips = run(main())
    assert (line, end) == (b"pushed by the peer\n", b"")
    assert sorted(set(trips)) == list(range(1000))  # every task had its turn, and every echo was right
    # the 1000 tasks wait on the caller's loop: the engine runs one read and one send per socket at most
    assert engine_tasks and max(engine_tasks) <= 30


# --- TLS on both sides, done on the host ----------------------------------------------------------
@pytest.fixture(scope="module")
def ca():
    return trustme.CA()


def test_tls_client_and_server_streams(modem, ca, tcp_server):
    leaf = ca.issue_cert("echo.test")
    host_context = host_ssl.create_default_context(host_ssl.Purpose.CLIENT_AUTH)
    leaf.configure_cert(host_context)

    def tls_echo(conn):
        with host_context.wrap_socket(conn, server_side=True) as tls:
            while data := tls.recv(65536):
                tls.sendall(data)

    server = tcp_server(tls_echo)
    client_context = SSLContext(PROTOCOL_TLS_CLIENT)
    ca.configure_trust(client_context)
    server_context = SSLContext(PROTOCOL_TLS_SERVER)
    leaf.configure_cert(server_context)
    payload = os.urandom(200_000)

    async def greet(reader, writer):
        writer.write(b"hello, " + await reader.readline())
        await writer.drain()
        writer.close()

    def host_client(port):
        context = host_ssl.create_default_context()
        ca.configure_trust(context)
        with host_socket.create_connection(("127.0.0.1", port), timeout=WAIT) as raw:
            with context.wrap_socket(raw, server_hostname="echo.test") as tls:
                tls.sendall(b"tls client\n")
                return tls.recv(100)

    async def main():
        reader, writer = await asyncio.open_connection("echo.test", server.port, ssl=client_context)
        assert writer.get_extra_info("ssl_object").version().startswith("TLSv1.")
        assert writer.get_extra_info("peercert")["subjectAltName"] == (("DNS", "echo.test"),)
        sending = asyncio.create_task(pump(writer, payload))
        assert await reader.readexactly(len(payload)) == payload
        await sending
        writer.close()
        await writer.wait_closed()

        with pytest.raises(host_ssl.SSLCertVerificationError):  # verification is on
            await asyncio.open_connection("127.0.0.1", server.port, ssl=client_context,
                                          server_hostname="someone.else")

        async with await asyncio.start_server(greet, "0.0.0.0", 0, ssl=server_context) as tls_server:
            port = tls_server.sockets[0].getsockname()[1]
            answer = await asyncio.get_running_loop().run_in_executor(None, host_client, port)
        return answer

    assert run(main()) == b"hello, tls client\n"


# --- UDP --------------------------------------------------------------------------------------------
def test_datagram_endpoint_sends_and_receives(modem, udp_echo):
    class Collect(asyncio.DatagramProtocol):
        def __init__(self):
            self.got = asyncio.Queue()

        def datagram_received(self, data, addr):
            self.got.put_nowait((data, addr))

    async def main():
        transport, protocol = await asyncio.create_datagram_endpoint(Collect, remote_addr=("127.0.0.1", udp_echo.port))
        for message in (b"one", b"two", b"three"):
            transport.sendto(message)
            assert await protocol.got.get() == (message, ("127.0.0.1", udp_echo.port))
        with pytest.raises(ValueError):
            transport.sendto(b"elsewhere", ("127.0.0.1", 9))
        transport.close()

    run(main())


# --- descriptors that tell the truth: the host's own selectors, poll and asyncio --------------------
def test_selectors_echo_server_over_filenos(modem):
    import selectors

    payload = os.urandom(300_000)
    result = {}
    listener = modem.socket()
    listener.bind(("", 0))
    listener.listen(2)
    listener.setblocking(False)
    port = listener.getsockname()[1]

    def host_client():
        with host_socket.create_connection(("127.0.0.1", port), timeout=WAIT) as sock:
            sender = threading.Thread(target=sock.sendall, args=(payload,))
            sender.start()
            got = b""
            while len(got) < len(payload) and (data := sock.recv(65536)):
                got += data
            sender.join()
            result["echo"] = got

    threading.Thread(target=host_client).start()
    selector = selectors.DefaultSelector()
    selector.register(listener.fileno(), selectors.EVENT_READ, "listener")
    pending = bytearray()
    conn = None
    finished = False
    deadline = time.monotonic() + WAIT
    while not finished and time.monotonic() < deadline:
        for key, events in selector.select(WAIT):
            if key.data == "listener":
                conn, _ = listener.accept()
                conn.setblocking(False)
                selector.register(conn.fileno(), selectors.EVENT_READ, "conn")
                continue
            if events & selectors.EVENT_READ:
                data = conn.recv(65536)
                if not data:
                    finished = True
                    break
                pending += data
                selector.modify(conn.fileno(), selectors.EVENT_READ | selectors.EVENT_WRITE, "conn")
            if events & selectors.EVENT_WRITE and pending:
                try:
                    del pending[:conn.send(pending)]
                except BlockingIOError:
                    pass  # the module's buffer is full: the descriptor stops saying writable for a while
                if not pending:
                    selector.modify(conn.fileno(), selectors.EVENT_READ, "conn")
    while pending:  # what is left once the client stopped sending
        selector.select(WAIT)
        del pending[:conn.send(pending)]
    conn.close()
    listener.close()
    selector.close()
    deadline = time.monotonic() + WAIT
    while "echo" not in result and time.monotonic() < deadline:
        time.sleep(0.05)
    assert result["echo"] == payload


def test_a_cpython_poll_program_sends_when_pollout_says_so(modem, echo_server):
    import select

    sock = modem.socket()
    sock.setblocking(False)
    poller = select.poll()
    poller.register(sock.fileno(), select.POLLOUT)
    assert poller.poll(0) == []  # not connected: a send would not go anywhere
    with pytest.raises(BlockingIOError):
        sock.connect(("127.0.0.1", echo_server.port))
    assert poller.poll(WAIT * 1000) == [(sock.fileno(), select.POLLOUT)]  # connected (or failed)
    assert sock.getsockopt(atsock.SOL_SOCKET, atsock.SO_ERROR) == 0
    payload, sent, echoed = os.urandom(100_000), 0, b""
    poller.modify(sock.fileno(), select.POLLOUT | select.POLLIN)
    while len(echoed) < len(payload):
        for fd, events in poller.poll(WAIT * 1000):
            if events & select.POLLOUT:
                try:
                    sent += sock.send(payload[sent:sent + 4096])
                except BlockingIOError:
                    pass
                if sent == len(payload):
                    poller.modify(fd, select.POLLIN)
            if events & select.POLLIN:
                echoed += sock.recv(65536)
    assert echoed == payload
    sock.close()
    assert sock.fileno() == -1


def test_the_host_asyncio_drives_atsock_sockets_through_their_descriptors(modem, echo_server):
    import asyncio as host_asyncio

    async def main():
        loop = host_asyncio.get_running_loop()
        sock = modem.socket()
        sock.setblocking(False)
        await loop.sock_connect(sock, ("127.0.0.1", echo_server.port))
        payload = os.urandom(150_000)

        async def receive():
            got = bytearray()
            while len(got) < len(payload):
                got += await loop.sock_recv(sock, 65536)
            return bytes(got)

        receiving = host_asyncio.create_task(receive())
        await loop.sock_sendall(sock, payload)
        assert await receiving == payload
        sock.close()

        refused = modem.socket()
        refused.setblocking(False)
        with pytest.raises(ConnectionRefusedError):
            await loop.sock_connect(refused, ("127.0.0.1", _closed_port()))
        refused.close()

        # asyncio's own streams over an atsock socket (it sets TCP_NODELAY, a no-op on the modem)
        plain = modem.socket()
        plain.connect(("127.0.0.1", echo_server.port))
        reader, writer = await host_asyncio.open_connection(sock=plain)
        assert plain.getsockopt(atsock.IPPROTO_TCP, atsock.TCP_NODELAY) == 1
        writer.write(b"through the host's own streams\n")
        assert await reader.readline() == b"through the host's own streams\n"
        writer.close()
        await writer.wait_closed()

    host_asyncio.run(host_asyncio.wait_for(main(), WAIT))


def _closed_port():
    with host_socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# --- MicroPython code: asyncio/uasyncio are atsock's for it, and only for it ------------------------
PROGRAM = b'''
import uasyncio
import asyncio

async def ask(host, port, question):
    reader, writer = await asyncio.open_connection(host, port)
    await writer.awrite(b"xx" + question + b"\\nyy", 2, len(question) + 1)
    answer = await reader.readline()
    await reader.awrite(b"0123")  # MicroPython's stream is one object: the reader writes too
    buffer, echoed = bytearray(8), b""
    while len(echoed) < 4:
        count = await reader.readinto(buffer)
        echoed += bytes(buffer[:count])
    await reader.aclose()
    return answer + echoed

async def main(host, port):
    await uasyncio.sleep_ms(5)
    answers = await asyncio.gather(*(ask(host, port, q) for q in (b"a", b"b", b"c")))
    return answers, asyncio is uasyncio

def run(host, port):
    return asyncio.run(main(host, port))
'''


def test_a_micropython_asyncio_program_runs_through_load(modem, fake_modem, echo_server, tmp_path):
    path = tmp_path / "program.py"
    path.write_bytes(PROGRAM)
    opens = commands(fake_modem, *OPENS)
    program = micropython.load(path)
    answers, same = program.run("echo.test", echo_server.port)
    assert answers == [b"a\n0123", b"b\n0123", b"c\n0123"] and same
    assert commands(fake_modem, *OPENS) == opens + 3
    import asyncio as host_asyncio
    assert program.asyncio is asyncio and host_asyncio.open_connection is not asyncio.open_connection
    assert sys.modules["asyncio"] is host_asyncio  # load() changed nothing outside the program


EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def test_the_openmv_asyncio_example_runs_through_load(modem, echo_server):
    program = micropython.load(EXAMPLES / "platforms" / "openmv_asyncio.py")
    replies, own, beats = program.run("echo.test", echo_server.port, _closed_port())
    assert replies == [b"frame 1\n", b"frame 2\n"]
    assert own.startswith(b"cam 127.0.0.1:") and own.endswith(b" says status?\n")
    assert beats >= 1  # the heartbeat task ran beside the streams


def test_the_asyncio_example_script_runs_as_a_user_runs_it():
    result = subprocess.run([sys.executable, str(EXAMPLES / "asyncio_streams.py")], capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert result.stdout.startswith("frame 1\nframe 2\ncam 127.0.0.1:")
    assert "AT commands for all of it" in result.stdout


def test_install_maps_uasyncio_and_with_standard_names_asyncio():
    import asyncio as host_asyncio

    atsock.install()
    import uasyncio
    assert uasyncio is asyncio and sys.modules["asyncio"] is host_asyncio
    atsock.install(standard_names=True)
    assert sys.modules["asyncio"] is asyncio  # (tests/conftest.py puts the host's back)
