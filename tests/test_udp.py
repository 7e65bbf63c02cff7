"""UDP through the modem's "UDP SERVICE" sockets, carried by real host UDP sockets."""
import errno
import socket as std_socket

import pytest

import atsock


def udp_socket(timeout=5.0):
    sock = atsock.socket(atsock.AF_INET, atsock.SOCK_DGRAM)
    sock.settimeout(timeout)
    return sock


def test_sendto_and_recvfrom_keep_datagram_boundaries_and_senders(modem, udp_echo):
    sock = udp_socket()
    datagrams = [b"one", b"two-two", b"\r\nOK\r\n", b"+IPD,0,5:", bytes(1460), b"x"]
    for datagram in datagrams:
        assert sock.sendto(datagram, ("127.0.0.1", udp_echo.port)) == len(datagram)
    for datagram in datagrams:
        data, sender = sock.recvfrom(2000)
        assert data == datagram
        assert sender == ("127.0.0.1", udp_echo.port)
    sock.close()


def test_sendto_a_name_resolves_it_through_the_modem(modem, udp_echo):
    sock = udp_socket()
    sock.sendto(b"by name", ("echo.test", udp_echo.port))
    assert sock.recvfrom(100) == (b"by name", ("127.0.0.1", udp_echo.port))
    sock.close()


def test_connected_udp_uses_send_and_recv_with_a_fixed_peer(modem, udp_echo):
    other = std_socket.socket(std_socket.AF_INET, std_socket.SOCK_DGRAM)
    sock = udp_socket()
    sock.connect(("127.0.0.1", udp_echo.port))
    port = sock.getsockname()[1]
    other.sendto(b"from a stranger", ("127.0.0.1", port))  # not the connected peer: filtered out
    sock.send(b"hello peer")
    assert sock.recv(100) == b"hello peer"
    assert sock.getpeername() == ("127.0.0.1", udp_echo.port)
    other.close()
    sock.close()


def test_bound_udp_socket_receives_from_a_host_client(modem):
    sock = udp_socket()
    with std_socket.socket(std_socket.AF_INET, std_socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    sock.bind(("0.0.0.0", port))
    assert sock.getsockname()[1] == port
    client = std_socket.socket(std_socket.AF_INET, std_socket.SOCK_DGRAM)
    client.bind(("127.0.0.1", 0))
    client.sendto(b"ping", ("127.0.0.1", port))
    data, sender = sock.recvfrom(100)
    assert data == b"ping"
    assert sender == client.getsockname()
    sock.sendto(b"pong", sender)
    assert client.recvfrom(100)[0] == b"pong"
    client.close()
    sock.close()


def test_recv_truncates_to_bufsize_and_errors(modem, udp_echo):
    sock = udp_socket(timeout=0.3)
    sock.sendto(b"0123456789", ("127.0.0.1", udp_echo.port))
    assert sock.recv(4) == b"0123"  # the rest of that datagram is dropped, as on BSD sockets
    with pytest.raises(OSError) as info:
        sock.recv(4)
    assert info.value.args[0] == errno.ETIMEDOUT
    with pytest.raises(OSError) as info:
        sock.sendto(bytes(modem.max_datagram + 1), ("127.0.0.1", udp_echo.port))
    assert info.value.args[0] == errno.EMSGSIZE
    with pytest.raises(OSError) as info:
        sock.send(b"no peer")
    assert info.value.args[0] == errno.EDESTADDRREQ  # as CPython: "Destination address required"
    with pytest.raises(OSError) as info:
        sock.listen()
    assert info.value.args[0] == errno.EOPNOTSUPP
    sock.close()
    with pytest.raises(OSError) as info:
        sock.sendto(b"closed", ("127.0.0.1", udp_echo.port))
    assert info.value.args[0] == errno.EBADF


def _occupied_udp_port():
    """A UDP port on the loopback address that another program on this machine holds."""
    holder = std_socket.socket(std_socket.AF_INET, std_socket.SOCK_DGRAM)
    holder.bind(("127.0.0.1", 0))
    return holder


def test_binding_a_port_the_module_cannot_have_is_eaddrinuse(modem):
    with _occupied_udp_port() as holder, udp_socket() as sock:
        with pytest.raises(OSError) as raised:
            sock.bind(("0.0.0.0", holder.getsockname()[1]))
        assert raised.value.errno == errno.EADDRINUSE


def test_an_ephemeral_port_in_use_is_passed_over_for_another(modem, udp_echo, monkeypatch):
    """The socket picks its own local port at random; one the module cannot have (the emulator's
    host port is held here by another socket) is tried once, then another is picked."""
    import atsock.surface.usock

    with _occupied_udp_port() as holder:
        taken = holder.getsockname()[1]
        picks = iter([taken])
        real = atsock.surface.usock.random.randint
        monkeypatch.setattr(atsock.surface.usock.random, "randint", lambda a, b: next(picks, None) or real(a, b))
        with udp_socket() as sock:
            sock.sendto(b"around the held port", ("127.0.0.1", udp_echo.port))
            assert sock.recv(100) == b"around the held port"
            assert sock.getsockname()[1] != taken
