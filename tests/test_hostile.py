"""Hostile input. From the caller: strings that could end an AT string or command early are
refused with ValueError before a byte is written. From the modem: absurd lengths, truncated
payloads, unknown URCs and noise cost at most the socket concerned, never the reader or the modem."""
import errno
import time

import pytest

import atsock

from fakemodem import FakeModem

from .conftest import emulator_options, modem_settings

BAD = ['a"b', "a\rb", "a\nb", "a\x00b", "a\x1bb", "\x7f", "caf\u00e9", "x" * 300]


def test_hostnames_are_checked_on_every_path(modem, fake_modem, dialect):
    before = len(fake_modem.received_commands)
    for bad in BAD + ["bad host", "-leading.dash", "a..b"]:
        with pytest.raises(ValueError):
            atsock.getaddrinfo(bad, 80)
        with pytest.raises(ValueError):
            atsock.socket().connect((bad, 80))
        with pytest.raises(ValueError):
            atsock.socket(atsock.AF_INET, atsock.SOCK_DGRAM).sendto(b"x", (bad, 80))
    commands = list(fake_modem.received_commands)[before:]
    assert not any("QIDNSGIP" in c or "CIPDOMAIN" in c or "QIOPEN" in c or "CIPSTART" in c for c in commands)


@pytest.mark.parametrize("field", ["apn", "user", "password", "pin"])
def test_quectel_settings_are_checked_before_the_port_is_touched(quectel_fake_modem, field):
    for bad in BAD:
        with pytest.raises(ValueError):
            atsock.open_modem(quectel_fake_modem.port, dialect="quectel", **{"apn": "internet", field: bad})
    assert list(quectel_fake_modem.received_commands) == []


def test_wifi_credentials_are_escaped_or_refused():
    dialect = "esp8285"
    with FakeModem(dialect, **emulator_options(dialect)) as fake_modem:
        for field in ("ssid", "key"):
            for bad in ("a\rb", "a\nb", "a\x00b", "caf\u00e9", "x" * 100):
                with pytest.raises(ValueError):
                    atsock.open_modem(fake_modem.port, dialect=dialect, **dict(modem_settings(dialect), **{field: bad}))
        assert list(fake_modem.received_commands) == []
        # quotes, commas and backslashes are legal in Wi-Fi names and keys: escaped, not refused
        with atsock.open_modem(fake_modem.port, dialect=dialect, **modem_settings(dialect)) as modem:
            assert modem.state == "online"


def echo(modem, port, data=b"still fine"):
    sock = modem.socket()
    sock.settimeout(10)
    sock.connect(("127.0.0.1", port))
    sock.write(data)
    got = sock.read(len(data))
    sock.close()
    return got == data


@pytest.mark.parametrize("how", ["absurd", "truncated"])
def test_a_wrongly_framed_payload_fails_that_socket_only(modem, fake_modem, echo_server, how):
    victim = modem.socket()
    victim.settimeout(15)
    victim.connect(("127.0.0.1", echo_server.port))
    fake_modem.corrupt_next_read(how)
    victim.write(b"this reply is framed wrongly")
    with pytest.raises(OSError) as info:
        victim.read(28)
    # refused at once (EPROTO), or a payload that stops half-way: whichever of the frame's idle
    # timer (EPROTO) and the read command's own budget (ETIMEDOUT) runs out first
    assert info.value.args[0] in ((errno.EPROTO,) if how == "absurd" else (errno.EPROTO, errno.ETIMEDOUT))
    if how == "absurd":
        assert modem.stats["protocol_errors"] >= 1
    assert modem.state == "online"
    assert echo(modem, echo_server.port)  # the channel is back in step
    victim.close()


def test_unknown_urcs_noise_and_an_endless_line_are_survived(modem, fake_modem, echo_server):
    sock = modem.socket()
    sock.settimeout(10)
    sock.connect(("127.0.0.1", echo_server.port))
    fake_modem.inject(b"\r\n+WHATEVER: 1,2,3\r\n\r\nUNHEARD OF\r\n\x00\xff\xfe\x80 binary \x01\r\n")
    fake_modem.inject(b"\r\n" + b"N" * 5000 + b"\r\n")  # longer than any line may be
    time.sleep(0.2)
    sock.write(b"after the noise")
    assert sock.read(15) == b"after the noise"
    assert modem.state == "online"
    sock.close()
    assert echo(modem, echo_server.port)
