"""Both transports carry the same engine: pyserial-asyncio on a descriptor, and a reader thread."""
import hashlib
import os
import socket
import threading

import serial

import atsock
import atsock.transport


def echo_through(modem, port, size):
    payload = os.urandom(size)
    sock = modem.socket()
    sock.settimeout(30)
    sock.connect(("127.0.0.1", port))
    sender = threading.Thread(target=sock.sendall, args=(payload,))
    sender.start()
    received = sock.read(size)
    sender.join()
    sock.close()
    return hashlib.sha256(received).digest() == hashlib.sha256(payload).digest()


def test_reader_thread_transport_for_ports_without_a_descriptor(quectel_fake_modem, echo_server, monkeypatch):
    monkeypatch.setattr(atsock.transport, "_has_descriptor", lambda port: False)
    with atsock.open_modem(quectel_fake_modem.port, apn="internet") as modem:
        assert type(modem.engine._transport).__name__ == "ThreadedSerialTransport"
        assert echo_through(modem, echo_server.port, 256 * 1024)


def test_socket_url_reaches_a_modem_behind_a_tcp_relay(quectel_fake_modem, echo_server):
    """``socket://host:port`` (a serial-over-TCP server, e.g. ser2net) is accepted as the port."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    pty = serial.Serial(quectel_fake_modem.port, timeout=0.05)

    def relay():
        conn, _ = listener.accept()
        conn.settimeout(0.05)
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # ser2net does; Nagle would stall each command
        stop = threading.Event()

        def to_pty():
            while not stop.is_set():
                try:
                    data = conn.recv(65536)
                except socket.timeout:
                    continue
                except OSError:
                    data = b""
                if not data:
                    stop.set()
                    return
                pty.write(data)

        threading.Thread(target=to_pty, daemon=True).start()
        while not stop.is_set():
            data = pty.read(max(1, pty.in_waiting))
            if data:
                try:
                    conn.sendall(data)
                except OSError:
                    stop.set()
        conn.close()

    threading.Thread(target=relay, daemon=True).start()
    url = "socket://127.0.0.1:%d" % listener.getsockname()[1]
    try:
        with atsock.open_modem(url, apn="internet") as modem:
            assert modem.state == "online"
            assert echo_through(modem, echo_server.port, 64 * 1024)
    finally:
        listener.close()
