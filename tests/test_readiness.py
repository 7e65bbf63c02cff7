"""What a connection's descriptor says, state by state, and that the host's poll sees it (no modem)."""
import select

from atsock.core.connection import Connection, Kind
from atsock.errors import os_error
from atsock.core.readiness import ReadySignal


def polled(fd):
    poller = select.poll()
    poller.register(fd, select.POLLIN | select.POLLOUT)
    events = dict(poller.poll(0)).get(fd, 0)
    return bool(events & select.POLLIN), bool(events & select.POLLOUT)


def test_ready_signal_is_readable_and_writable_exactly_as_told():
    state = [False, True]
    signal = ReadySignal()
    fd = signal.fileno()
    for wanted in [(False, True), (True, True), (True, False), (False, False), (False, True), (True, False),
                   (True, False), (False, True)]:
        state[:] = wanted
        signal.refresh(lambda: tuple(state))
        assert polled(fd) == wanted
    signal.close()
    assert signal.fileno() == -1
    signal.refresh(lambda: (True, True))  # harmless once closed


def test_a_stream_connection_state_by_state():
    conn = Connection(Kind.TCP)
    fd = conn.notifier.descriptor()
    assert conn.readiness() == polled(fd) == (False, False)  # fresh: nowhere to send yet
    conn.life.start_open()
    assert polled(fd) == (False, False)  # connecting
    conn.life.connect_done()
    assert polled(fd) == (False, True)
    conn.inbox.add(b"data")
    conn.changed()
    assert polled(fd) == (True, True)
    conn.send_full = True  # the module had no room and a non-blocking send gave up
    conn.changed()
    assert polled(fd) == (True, False)
    conn.send_full = False
    conn.inbox.take(100)
    conn.inbox.eof = True
    conn.life.peer_finished()
    assert polled(fd) == (True, True)  # end of stream to read; a send fails at once (EPIPE)
    conn.error = os_error(104)
    conn.life.lose()
    assert polled(fd) == (True, True)
    conn.life.release()
    conn.notifier.close()


def test_a_failed_nonblocking_connect_is_readable_and_writable():
    conn = Connection(Kind.TCP)
    fd = conn.notifier.descriptor()
    conn.connect_error = os_error(111)
    conn.changed()
    assert polled(fd) == (True, True)
    conn.notifier.close()


def test_listeners_and_datagram_sockets():
    listener = Connection(Kind.TCP)
    listener.become(Kind.LISTENER, 2)
    fd = listener.notifier.descriptor()
    listener.life.start_open()
    listener.life.listen_done()
    assert polled(fd) == (False, False)
    listener.inbox.add(Connection(Kind.TCP))
    listener.changed()
    assert polled(fd) == (True, False)  # a client to accept; a listener never sends
    listener.notifier.close()

    udp = Connection(Kind.UDP)
    fd = udp.notifier.descriptor()
    assert polled(fd) == (False, True)  # sendto opens it and sends
    udp.notifier.close()
