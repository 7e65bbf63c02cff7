"""ESP-AT specifics: Wi-Fi join errors, firmware 1.x vs 2.x, passive vs active receive, busy, MaixPy API."""
import errno
import hashlib
import os
import socket as std_socket
import threading
import time

import pytest
import serial

import atsock
from atsock import network
from fakemodem import FakeModem

from .at_client import AtPort
from .conftest import HOSTS, WIFI

FIRMWARES = ["1.7.4", "2.2.0"]


def esp(firmware="1.7.4", **options):
    return FakeModem("esp8285", firmware=firmware, hosts=HOSTS, networks={WIFI["ssid"]: WIFI["key"]}, **options)


@pytest.mark.parametrize("firmware", FIRMWARES)
def test_wrong_wifi_password_and_unknown_network_are_clear_errors(firmware):
    with esp(firmware) as fm:
        with pytest.raises(OSError) as info:
            atsock.open_modem(fm.port, dialect="esp8285", ssid=WIFI["ssid"], key="wrong")
        assert info.value.args[0] == errno.EACCES
        assert "password" in str(info.value)
        with pytest.raises(OSError) as info:
            atsock.open_modem(fm.port, dialect="esp8285", ssid="no-such-net", key="x")
        assert info.value.args[0] == errno.ENETUNREACH


@pytest.mark.parametrize("firmware", FIRMWARES)
def test_firmware_generation_is_detected_and_its_command_names_used(firmware, echo_server, udp_echo):
    with esp(firmware) as fm, atsock.open_modem(fm.port, dialect="esp8285", **WIFI) as modem:
        major = int(firmware[0])
        assert modem.firmware_major == major
        join = [c for c in fm.received_commands if c.startswith("AT+CWJAP")][0]
        assert join.startswith("AT+CWJAP_CUR=" if major == 1 else "AT+CWJAP=")
        sock = atsock.socket()
        sock.connect(atsock.getaddrinfo("echo.test", echo_server.port)[0][-1])
        sock.write(b"generation %d" % major)
        assert sock.read(12) == b"generation %d" % major
        sock.close()
        udp = atsock.socket(atsock.AF_INET, atsock.SOCK_DGRAM)
        udp.settimeout(5)
        udp.sendto(b"datagram", ("127.0.0.1", udp_echo.port))  # 1.x: active +IPD even in passive mode
        assert udp.recvfrom(100) == (b"datagram", ("127.0.0.1", udp_echo.port))
        udp.close()


@pytest.mark.parametrize("firmware", FIRMWARES)
@pytest.mark.parametrize("receive", ["passive", "active"])
def test_one_mebibyte_echo_in_passive_and_active_mode(firmware, receive, echo_server):
    payload = os.urandom(1024 * 1024)
    with esp(firmware) as fm, atsock.open_modem(fm.port, dialect="esp8285", receive=receive, **WIFI) as modem:
        sock = atsock.socket()
        sock.settimeout(60)
        sock.connect(("127.0.0.1", echo_server.port))
        sender = threading.Thread(target=sock.sendall, args=(payload,))
        sender.start()
        received = sock.read(len(payload))
        sender.join()
        assert hashlib.sha256(received).digest() == hashlib.sha256(payload).digest()
        names = modem.stats["by_name"]
        assert ("AT+CIPRECVDATA" in names) == (receive == "passive")
        sock.close()


def test_a_command_sent_while_the_module_works_is_answered_busy():
    """What real firmware does with input during a running command (the emulator as oracle)."""
    with esp(join_delay=0.5) as fm:
        at = AtPort(fm.port, b"\r\n")
        at.sync()
        port = at.port
        port.timeout = 2
        port.write(b'AT+CWJAP_CUR="%s","%s"\r\n' % (WIFI["ssid"].encode(), b"s3cret\\,\\\"pass\\\\"))
        time.sleep(0.1)
        port.write(b"AT\r\n")
        answer = port.read_until(b"OK\r\n")
        assert b"busy p..." in answer
        assert answer.index(b"busy p...") < answer.index(b"WIFI CONNECTED")
        port.close()


def test_boot_noise_of_a_1x_module_does_not_disturb_bring_up(echo_server):
    with esp(boot_noise=True) as fm, atsock.open_modem(fm.port, dialect="esp8285", **WIFI):
        sock = atsock.socket()
        sock.connect(("127.0.0.1", echo_server.port))
        sock.write(b"clean")
        assert sock.read(5) == b"clean"
        sock.close()


def test_a_client_beyond_five_links_is_turned_away_by_the_module(echo_server):
    with esp() as fm, atsock.open_modem(fm.port, dialect="esp8285", **WIFI):
        server = atsock.socket()
        server.bind(("", 0))
        server.listen(2)
        port = server.getsockname()[1]
        clients = []
        for _ in range(5):
            sock = atsock.socket()
            sock.connect(("127.0.0.1", echo_server.port))
            clients.append(sock)
        refused = std_socket.create_connection(("127.0.0.1", port), timeout=5)
        refused.settimeout(5)
        assert refused.recv(10) == b""
        clients.pop().close()
        client = std_socket.create_connection(("127.0.0.1", port), timeout=5)
        server.settimeout(5)
        conn, address = server.accept()
        assert address == client.getsockname()  # read back with AT+CIPSTATUS
        client.sendall(b"in")
        conn.settimeout(5)
        assert conn.read(2) == b"in"
        for sock in clients + [conn, server]:
            sock.close()
        client.close()
        refused.close()


@pytest.mark.parametrize("firmware", FIRMWARES)
def test_maixpy_network_esp8285(firmware, echo_server):
    with esp(firmware) as fm:
        with serial.Serial(fm.port, 115200) as uart:  # MaixPy hands over an open UART
            nic = network.ESP8285(uart)
            assert not nic.isconnected()
            assert nic.ifconfig() == ("0",) * 7
            with pytest.raises(OSError):
                atsock.socket().connect(("127.0.0.1", echo_server.port))  # no Wi-Fi yet
            nic.connect(WIFI["ssid"], WIFI["key"])
            assert nic.isconnected()
            ip, netmask, gateway, dns, dhcp, mac, ssid = nic.ifconfig()
            assert ip == "192.168.4.23" and netmask == "255.255.255.0" and gateway == "192.168.4.1"
            assert mac == "a4:cf:12:00:11:22" and ssid == WIFI["ssid"]
            sock = atsock.socket()
            sock.connect(("127.0.0.1", echo_server.port))
            sock.send(b"maix")
            assert sock.recv(4) == b"maix"
            nic.disconnect()
            assert not nic.isconnected()
            with pytest.raises(OSError) as info:
                sock.send(b"gone")
            assert info.value.args[0] == errno.ENETDOWN
            nic.close()
