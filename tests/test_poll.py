"""Non-blocking sockets and poll, with MicroPython's meanings; fileno() works with the stdlib too."""
import errno
import select as std_select
import selectors
import socket as std_socket
import time

import pytest

import atsock
from atsock import select as uselect
from atsock.select import POLLERR, POLLHUP, POLLIN, POLLNVAL, POLLOUT


def test_fresh_socket_polls_out_and_hup_closed_one_nval(modem):
    sock = atsock.socket()
    poller = uselect.poll()
    poller.register(sock, POLLIN | POLLOUT)
    assert poller.poll(0) == [(sock, POLLOUT | POLLHUP)]
    sock.close()
    assert poller.poll(0) == [(sock, POLLNVAL)]
    assert sock.fileno() == -1


def test_nonblocking_connect_completes_through_poll(modem, echo_server):
    sock = atsock.socket()
    sock.setblocking(False)
    with pytest.raises(OSError) as info:
        sock.connect(("127.0.0.1", echo_server.port))
    assert info.value.args[0] == errno.EINPROGRESS
    with pytest.raises(OSError) as info:
        sock.connect(("127.0.0.1", echo_server.port))
    assert info.value.args[0] in (errno.EALREADY, errno.EISCONN)
    poller = uselect.poll()
    poller.register(sock, POLLOUT)
    assert poller.poll(5000) == [(sock, POLLOUT)]
    with pytest.raises(OSError) as info:
        sock.recv(10)
    assert info.value.args[0] == errno.EAGAIN
    assert sock.read(10) is None
    assert sock.readline() is None
    assert sock.readinto(bytearray(4)) is None
    sock.send(b"ping")
    poller.modify(sock, POLLIN)
    assert poller.poll(5000) == [(sock, POLLIN)]
    assert sock.recv(10) == b"ping"
    sock.close()


def test_nonblocking_connect_failure_shows_as_error(modem):
    closed = std_socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()
    sock = atsock.socket()
    sock.setblocking(False)
    with pytest.raises(OSError):
        sock.connect(("127.0.0.1", port))
    poller = uselect.poll()
    poller.register(sock, POLLOUT)
    events = poller.poll(5000)
    assert events and events[0][1] & POLLERR
    assert sock.getsockopt(atsock.SOL_SOCKET, atsock.SO_ERROR) == errno.ECONNREFUSED
    with pytest.raises(ConnectionRefusedError):
        sock.connect(("127.0.0.1", port))  # the verdict is reported once, as on BSD sockets
    sock.close()


def test_poll_reports_data_end_of_stream_and_listeners(modem, tcp_server):
    server = tcp_server(lambda conn: conn.sendall(b"bye"))
    sock = atsock.socket()
    sock.connect(("127.0.0.1", server.port))
    listener = atsock.socket()
    listener.bind(("", 0))
    listener.listen()
    poller = uselect.poll()
    poller.register(sock, POLLIN)
    poller.register(listener, POLLIN)
    assert poller.poll(5000) == [(sock, POLLIN)]
    assert sock.read() == b"bye"
    assert poller.poll(0) == [(sock, POLLIN)]  # end of stream stays readable (recv returns b"")
    poller.unregister(sock)
    assert poller.poll(100) == []
    client = std_socket.create_connection(("127.0.0.1", listener.getsockname()[1]))
    assert poller.poll(5000) == [(listener, POLLIN)]
    assert list(poller.ipoll(0, 1)) == [(listener, POLLIN)]
    assert poller.poll(0) == []  # one-shot: disarmed until modify()
    conn, _ = listener.accept()
    for s in (conn, listener, sock):
        s.close()
    client.close()


def test_poll_timeout_is_in_milliseconds(modem, echo_server):
    sock = atsock.socket()
    sock.connect(("127.0.0.1", echo_server.port))
    poller = uselect.poll()
    poller.register(sock, POLLIN)
    started = time.monotonic()
    assert poller.poll(200) == []
    assert 0.15 < time.monotonic() - started < 2
    sock.close()


def test_fileno_is_a_real_descriptor_for_stdlib_select_and_selectors(modem, echo_server):
    sock = atsock.socket()
    sock.connect(("127.0.0.1", echo_server.port))
    fd = sock.fileno()
    assert isinstance(fd, int) and fd >= 0
    assert std_select.select([fd], [], [], 0)[0] == []
    sock.write(b"wake up")
    with selectors.DefaultSelector() as selector:
        selector.register(sock, selectors.EVENT_READ)
        assert [key.fileobj for key, _ in selector.select(5)] == [sock]
        assert sock.recv(100) == b"wake up"
        assert selector.select(0.1) == []  # drained: no longer readable
    sock.close()
    assert sock.fileno() == -1


def test_select_select(modem, echo_server):
    sock = atsock.socket()
    sock.connect(("127.0.0.1", echo_server.port))
    assert uselect.select([sock], [sock], [], 0) == ([], [sock], [])
    sock.write(b"x")
    readable, _, _ = uselect.select([sock], [], [], 5)
    assert readable == [sock]
    sock.close()


def test_a_plain_os_socket_can_share_a_poll_set(modem, echo_server):
    plain_a, plain_b = std_socket.socketpair()
    sock = atsock.socket()
    sock.connect(("127.0.0.1", echo_server.port))
    poller = uselect.poll()
    poller.register(plain_a, POLLIN)
    poller.register(sock, POLLIN)
    plain_b.send(b"!")
    assert poller.poll(2000) == [(plain_a, POLLIN)]
    plain_a.recv(1)
    sock.write(b"?")
    assert poller.poll(5000) == [(sock, POLLIN)]
    for s in (plain_a, plain_b, sock):
        s.close()
