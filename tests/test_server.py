"""TCP servers through "TCP LISTENER": the emulator listens on 127.0.0.1, a plain host client connects."""
import errno
import socket as std_socket
import threading
import time

import pytest

import atsock

from .conftest import open_ids


def listener(backlog=2):
    server = atsock.socket()
    server.bind(("", 0))
    server.listen(backlog)
    return server, server.getsockname()[1]


def test_accept_returns_a_connection_and_the_client_address(modem):
    server, port = listener()
    client = std_socket.create_connection(("127.0.0.1", port), timeout=5)
    server.settimeout(5)
    conn, address = server.accept()
    assert address == client.getsockname()
    client.sendall(b"hello server\n")
    conn.settimeout(5)
    assert conn.readline() == b"hello server\n"
    conn.write(b"hello client")
    assert client.recv(100) == b"hello client"
    client.close()
    assert conn.read() == b""  # the client's close reaches the accepted socket
    conn.close()
    server.close()


def test_listener_and_accepted_sockets_close_independently(modem, fake_modem):
    server, port = listener()
    server.settimeout(5)
    clients = [std_socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(2)]
    first, _ = server.accept()
    second, _ = server.accept()
    server.close()
    first.settimeout(5)
    clients[0].sendall(b"still here")
    assert first.read(10) == b"still here"
    with pytest.raises(OSError):
        std_socket.create_connection(("127.0.0.1", port), timeout=2)  # nobody listens any more
    first.close()
    clients[1].sendall(b"me too")
    second.settimeout(5)
    assert second.read(6) == b"me too"
    second.close()
    for client in clients:
        client.close()
    assert open_ids(fake_modem) == []


def test_accept_timeout_nonblocking_and_misuse(modem):
    server, port = listener()
    server.settimeout(0.3)
    with pytest.raises(OSError) as info:
        server.accept()
    assert info.value.args[0] == errno.ETIMEDOUT
    server.setblocking(False)
    with pytest.raises(OSError) as info:
        server.accept()
    assert info.value.args[0] == errno.EAGAIN
    with pytest.raises(OSError) as info:
        server.recv(10)
    assert info.value.args[0] == errno.ENOTCONN
    fresh = atsock.socket()
    with pytest.raises(OSError) as info:
        fresh.accept()
    assert info.value.args[0] == errno.EINVAL
    fresh.close()
    server.close()


def test_connections_beyond_the_backlog_are_turned_away_not_leaked(modem, fake_modem, dialect):
    server, port = listener(backlog=1)
    clients = []
    for _ in range(3):
        clients.append(std_socket.create_connection(("127.0.0.1", port), timeout=5))
        time.sleep(0.1)  # arrive in order: the first one queues, the later two find the backlog full
    for turned_away in clients[1:]:
        assert turned_away.recv(10) == b""  # closed by the driver's AT+QICLOSE
    listener_ids = 1 if dialect == "quectel" else 0  # an ESP server holds no link id
    assert len(open_ids(fake_modem)) == listener_ids + 1  # and one queued connection
    server.settimeout(5)
    conn, _ = server.accept()
    conn.close()
    server.close()
    for client in clients:
        client.close()


def test_incoming_full_when_every_connect_id_is_taken(quectel_modem, echo_server):
    modem = quectel_modem
    server, port = listener(backlog=5)
    others = []
    for _ in range(11):
        sock = atsock.socket()
        sock.connect(("127.0.0.1", echo_server.port))
        others.append(sock)
    refused = std_socket.create_connection(("127.0.0.1", port), timeout=5)
    refused.settimeout(5)
    assert refused.recv(10) == b""  # the module closes a client it has no connectID for
    deadline = time.monotonic() + 5
    while modem.incoming_refused == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert modem.incoming_refused == 1
    others.pop().close()
    client = std_socket.create_connection(("127.0.0.1", port), timeout=5)
    server.settimeout(5)
    conn, _ = server.accept()
    client.sendall(b"room again")
    conn.settimeout(5)
    assert conn.read(10) == b"room again"
    for sock in others + [conn, server]:
        sock.close()
    client.close()
    refused.close()


def test_server_handles_clients_in_threads(modem):
    server, port = listener(backlog=4)
    results = []

    def client(index):
        with std_socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(b"%d\n" % index)
            results.append(sock.recv(100))

    threads = [threading.Thread(target=client, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    server.settimeout(10)
    for _ in range(4):
        conn, _ = server.accept()
        conn.settimeout(5)
        conn.write(b"echo " + conn.readline())
        conn.close()
    for thread in threads:
        thread.join(10)
    assert sorted(results) == sorted(b"echo %d\n" % i for i in range(4))
    server.close()
