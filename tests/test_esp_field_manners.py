"""ESP modules as field logs show them, end to end: boot text before (or instead of) ``ready``, an
AT+RST refused, older firmware's answers, ``+IPD`` glued to the data before it, ESP-AT 2.1's extra
lines, a TLS link that announces more than it delivers, ``SEND OK`` seconds late. Each is an
emulator option; atsock meets each with the data intact or an error that says what happened."""
import hashlib
import os
import threading

import pytest

import atsock
from atsock import errors
from fakemodem import FakeModem

from .at_client import AtPort
from .conftest import HOSTS, WIFI, TcpServer, UdpEcho, echo_handler
from .test_recovery import wait_for
from .test_module_tls import ca, module_tls, server_cert, tls_server, verifying  # noqa: F401 (fixtures)


def esp(firmware="1.7", **options):
    return FakeModem("esp8285", firmware=firmware, hosts=HOSTS, networks={WIFI["ssid"]: WIFI["key"], "plain": "pw"},
                     **options)


def open_esp(fm, **settings):
    return atsock.open_modem(fm.port, dialect="esp8285", **WIFI, **settings)


@pytest.fixture
def echo():
    server = TcpServer(echo_handler)
    yield server
    server.close()


def echoes(modem, port, chunks=(b"first ", b"second ", b"third")):
    sock = modem.socket()
    sock.settimeout(10)
    sock.connect(("127.0.0.1", port))
    for chunk in chunks:
        sock.send(chunk)
    expected = b"".join(chunks)
    got = b""
    while len(got) < len(expected):
        got += sock.recv(100)
    sock.close()
    return got == expected


# --- boot -------------------------------------------------------------------------------------------
def test_rom_text_a_vendor_banner_and_ai_thinkers_gmr_do_not_disturb_bring_up(echo):
    with esp(boot_noise="rom", vendor_banner="Ai-Thinker Technology Co., Ltd.", gmr_style="ai-thinker") as fm:
        with open_esp(fm) as modem:
            assert modem.firmware_major == 1
            assert echoes(modem, echo.port)


def test_a_module_that_prints_invalid_is_reported_as_such():
    # (it boots once the port is open: pyserial flushes what came before)
    with esp(boot_noise="garbage", vendor_banner="Ai-Thinker Technology Co., Ltd.", boot_outcome="invalid",
             boot_delay=0.5) as fm:
        with pytest.raises(errors.StartupError) as failure:
            open_esp(fm, sync_timeout=3.0)
    assert failure.value.boot_text == "Invalid"
    assert "never said it was ready" in str(failure.value) and "does not answer" not in str(failure.value)


def test_a_module_whose_firmware_dies_at_its_reset_says_so():
    with esp() as fm:
        assert wait_for(lambda: fm.call(lambda: fm.module.serial.listening))  # booted (ready) once
        fm.call(setattr, fm.module, "boot_outcome", "invalid")   # the next boot is the one that fails
        with pytest.raises(errors.StartupError) as failure:
            open_esp(fm)
    assert "restarted (AT+RST)" in str(failure.value) and failure.value.boot_text == "Invalid"


def test_a_module_that_never_says_ready_but_answers_is_used(echo):
    with esp(boot_outcome="silent") as fm, open_esp(fm) as modem:
        assert echoes(modem, echo.port)


def test_a_refused_at_rst_does_not_abort_bring_up_and_leftovers_are_closed(echo):
    with esp("2.2", rst_answer="ERROR") as fm:
        with AtPort(fm.port, b"\r\n") as at:                       # an earlier program left a link open
            at.sync()
            at.command('AT+CWJAP="plain","pw"')
            at.command("AT+CIPMUX=1")
            at.command(f'AT+CIPSTART=2,"TCP","127.0.0.1",{echo.port}')
            assert fm.call(fm.module.open_ids) == [2]
        with open_esp(fm) as modem:
            assert fm.call(fm.module.open_ids) == []
            assert "AT+CIPCLOSE=5" in fm.received_commands
            assert echoes(modem, echo.port)


# --- answers of older and other firmware ---------------------------------------------------------------
@pytest.mark.parametrize("firmware", ["1.7", "2.2"])
def test_ipd_glued_to_the_data_and_send_ok_seconds_late_in_active_mode(firmware, echo):
    with esp(firmware, ipd_crlf=False, send_ok_delay=0.3) as fm, open_esp(fm, receive="active") as modem:
        assert echoes(modem, echo.port)              # the echo's +IPD comes before each SEND OK
        payload = os.urandom(20000)
        sock = modem.socket()
        sock.connect(("127.0.0.1", echo.port))
        sender = threading.Thread(target=sock.sendall, args=(payload,))
        sender.start()
        got = b""
        while len(got) < len(payload):
            got += sock.recv(65536)
        sender.join()
        sock.close()
        assert hashlib.sha256(got).digest() == hashlib.sha256(payload).digest()


def test_esp_at_2_1s_to_read_and_udp_lines(echo):
    peer = UdpEcho()
    try:
        with esp("2.2", recvdata_to_read=True, udp_start_report=True) as fm, open_esp(fm) as modem:
            assert echoes(modem, echo.port)
            udp = modem.socket(atsock.AF_INET, atsock.SOCK_DGRAM)
            udp.settimeout(10)
            udp.sendto(b"ping", ("127.0.0.1", peer.port))
            assert udp.recvfrom(100)[0] == b"ping"
            udp.close()
    finally:
        peer.close()


def test_a_tls_link_that_announces_more_than_it_delivers(tls_server, ca):
    server = tls_server()
    with esp("2.2", ssl_count="encrypted", client_ca=[ca.cert_pem.bytes()]) as fm, open_esp(fm) as modem:
        tls = verifying(ca.cert_pem.bytes()).wrap_socket(modem.socket(), server_hostname="echo.test",
                                                          module_tls=module_tls("esp-2.2"))
        tls.settimeout(10)
        tls.connect(("127.0.0.1", server.port))
        payload = os.urandom(30000)
        sender = threading.Thread(target=tls.sendall, args=(payload,))
        sender.start()
        received = tls.read(len(payload))
        sender.join()
        assert received == payload
        tls.write(b"and the rest")
        assert tls.read(12) == b"and the rest"
        tls.close()
