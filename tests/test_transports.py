"""Both transports carry the same engine: pyserial-asyncio on a descriptor, and a reader thread."""
import errno
import hashlib
import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import serial

import atsock
import atsock.wire.transport
from atsock.wire import port_holders

from .conftest import modem_settings

ROOT = Path(__file__).resolve().parent.parent


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
    monkeypatch.setattr(atsock.wire.transport, "_has_descriptor", lambda port: False)
    with atsock.open_modem(quectel_fake_modem.port, apn="internet") as modem:
        assert type(modem.engine._transport).__name__ == "ThreadedSerialTransport"
        assert echo_through(modem, echo_server.port, 256 * 1024)


def test_socket_url_reaches_a_modem_behind_a_tcp_relay(quectel_fake_modem, echo_server):
    """``socket://host:port`` (a serial-over-TCP server, e.g. ser2net) is accepted as the port."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    pty = serial.Serial(quectel_fake_modem.port, 115200, timeout=0.05)

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
            try:
                data = pty.read(max(1, pty.in_waiting))
            except (serial.SerialException, OSError):  # the emulator closed its end: the test is over
                break
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


# --- one port, one program ----------------------------------------------------------------------

SECOND_OPENER = """
import sys
import atsock
try:
    atsock.open_modem(sys.argv[1], dialect=sys.argv[2], **eval(sys.argv[3]))
except OSError as exc:
    print(exc.args[0], exc.args[1])
"""


def test_a_port_in_use_is_refused_with_ebusy_naming_its_holder(fake_modem, modem, dialect, echo_server):
    settings = modem_settings(dialect)
    with pytest.raises(OSError) as info:
        atsock.open_modem(fake_modem.port, dialect=dialect, **settings)
    assert info.value.args[0] == errno.EBUSY
    assert f"this process (pid {os.getpid()})" in info.value.args[1]
    result = subprocess.run([sys.executable, "-c", SECOND_OPENER, fake_modem.port, dialect, repr(settings)],
                            capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert result.returncode == 0
    assert result.stderr == ""  # no "Future exception was never retrieved", no warning
    assert result.stdout.startswith(f"{errno.EBUSY} serial port {fake_modem.port} is busy: held by ")
    assert f"(pid {os.getpid()})" in result.stdout
    assert modem.state == "online"  # the first program never noticed
    sock = modem.socket()
    sock.settimeout(10)
    sock.connect(("127.0.0.1", echo_server.port))
    sock.write(b"still mine")
    assert sock.read(10) == b"still mine"
    sock.close()


def test_holders_are_named_from_proc_with_a_hint_for_modemmanager(tmp_path):
    device = tmp_path / "ttyUSB2"
    device.write_text("")
    proc = tmp_path / "proc"
    for pid, name, files in [(512, "ModemManager", [device]), (700, "minicom", [tmp_path]), (9, "bash", [])]:
        (proc / str(pid) / "fd").mkdir(parents=True)
        (proc / str(pid) / "comm").write_text(name + "\n")
        for number, target in enumerate(files, 3):
            os.symlink(target, proc / str(pid) / "fd" / str(number))
    (proc / "self").mkdir()
    assert port_holders.holders(str(device), str(proc)) == [(512, "ModemManager")]
    text = port_holders.describe(str(device), str(proc))
    assert text.startswith("held by ModemManager (pid 512); ModemManager probes serial ports")
    assert port_holders.describe(str(tmp_path / "ttyUSB3"), str(proc)) == ""
