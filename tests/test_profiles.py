"""Per-module profiles: limits, prompt bytes, boot URCs and quirks follow the model or firmware
chosen, byte for byte on the wire (plain pyserial, no atsock)."""
import socket
import threading

import pytest

from fakemodem import FakeModem, profiles

from .at_client import AtPort


def quectel(model, **options):
    fm = FakeModem("quectel", model=model, powered=False, **options)
    at = AtPort(fm.port)
    fm.power_on()  # once the port listens: the boot URCs are read
    boot = at.read_until(rb"SMS DONE\r\n")
    at.command("ATE0")
    return fm, at, boot


def esp(firmware, **options):
    fm = FakeModem("esp8285", firmware=firmware, networks={"lab": "pw"}, **options)
    at = AtPort(fm.port, b"\r\n")
    at.sync()
    at.command("ATE0")
    return fm, at


def test_every_profile_is_consistent():
    for name, profile in profiles.QUECTEL.items():
        ident = profile.identity
        assert profile.model == name
        assert ident.ati_lines == (ident.manufacturer, ident.model, "Revision: " + ident.revision)
        assert ident.revision.startswith(name) and ident.imei.isdigit() and len(ident.imei) == 15
    for name, profile in profiles.ESP.items():
        assert profile.generation == name and profile.version.startswith(name)
        assert profile.major == int(name[0])
    for name, fields in profiles.unconfirmed_fields().items():
        dialect, key = name.split()
        profile = profiles.QUECTEL[key] if dialect == "quectel" else profiles.ESP[key]
        for dotted in fields:  # every field named as unconfirmed exists
            value = profile
            for part in dotted.split("."):
                value = getattr(value, part)


@pytest.mark.parametrize("model,boot", [
    ("BG96", b"\r\nRDY\r\n\r\n+CFUN: 1\r\n\r\n+CPIN: READY\r\n\r\n+QIND: SMS DONE\r\n"),
    ("EC25", b"\r\nRDY\r\n\r\n+CFUN: 1\r\n\r\n+CPIN: READY\r\n\r\n+QUSIM: 1\r\n\r\n+QIND: SMS DONE\r\n"),
])
def test_boot_urcs_follow_the_model(model, boot):
    fm, at, seen = quectel(model)
    with fm, at:
        assert seen == boot
        assert fm.module.identity.model == model


@pytest.mark.parametrize("model,contexts", [("BG96", 16), ("BG95", 16), ("EC25", 16), ("EC200U", 7)])
def test_context_and_connect_id_ranges_follow_the_model(model, contexts):
    fm, at, _ = quectel(model)
    with fm, at:
        assert at.command(f"AT+QIACT={contexts}") == b"\r\nOK\r\n"
        assert at.command(f"AT+QIACT={contexts + 1}") == b"\r\nERROR\r\n"
        assert at.command('AT+QIOPEN=1,12,"TCP","127.0.0.1",80,0,0') == b"\r\nERROR\r\n"  # ids 0-11


def test_keepalive_idle_units_and_ranges_follow_the_model():
    fm, at, _ = quectel("BG95")
    with fm, at:
        assert at.command('AT+QICFG="tcp/keepalive",1,121,25,3') == b"\r\nERROR\r\n"
        assert at.command('AT+QICFG="tcp/keepalive",1,120,30,5') == b"\r\nOK\r\n"
        assert at.command('AT+QICFG="tcp/keepalive"') == b'\r\n+QICFG: "tcp/keepalive",1,120,30,5\r\n\r\nOK\r\n'
        assert fm.module.services.keepalive == (7200, 30, 5)  # minutes
    fm, at, _ = quectel("EC200U")
    with fm, at:
        assert at.command('AT+QICFG="tcp/keepalive",1,1800,25,3') == b"\r\nOK\r\n"
        assert fm.module.services.keepalive == (1800, 25, 3)  # seconds


def test_recvind_exists_on_bg95_and_not_in_the_bg96_note(echo_server):
    fm, at, _ = quectel("BG96")
    with fm, at:
        assert at.command('AT+QICFG="recvind",1') == b"\r\nERROR\r\n"
    with pytest.raises(ValueError):
        FakeModem("quectel", model="BG96", recv_with_length=True)
    fm, at, _ = quectel("BG95")
    with fm, at:
        assert at.command('AT+QICFG="recvind",1') == b"\r\nOK\r\n"
        at.command("AT+QIACT=1")
        at.command(f'AT+QIOPEN=1,0,"TCP","127.0.0.1",{echo_server.port},0,0')
        at.read_until(rb"\+QIOPEN: 0,0\r\n")
        at.write(b"AT+QISEND=0,5\r")
        at.read_until(rb"> ")
        at.write(b"hello")
        assert at.read_until(rb'"recv",0,\d+\r\n').endswith(b'\r\n+QIURC: "recv",0,5\r\n')


@pytest.mark.parametrize("prompt", [None, b"\r\n>", b"\r\n>\r\n"])
def test_the_prompt_is_exactly_the_profiles_or_the_option(prompt, echo_server):
    options = {} if prompt is None else {"prompt": prompt}
    fm, at, _ = quectel("EC200U", **options)
    with fm, at:
        at.command("AT+QIACT=1")
        at.command(f'AT+QIOPEN=1,0,"TCP","127.0.0.1",{echo_server.port},0,0')
        at.read_until(rb"\+QIOPEN: 0,0\r\n")
        at.write(b"AT+QISEND=0,2\r")
        assert at.read_quiet() == (prompt or b"\r\n> ")


def test_an_unknown_model_or_firmware_is_refused():
    with pytest.raises(ValueError, match="BG96, BG95, EC25, EC200U"):
        FakeModem("quectel", model="SIM800")
    for firmware in ("3.0", "1.6.2", "abc", "2"):
        with pytest.raises(ValueError):
            FakeModem("esp8285", firmware=firmware)


@pytest.mark.parametrize("firmware,version,prompt,failure", [
    ("1.7", "1.7.4", b"\r\nOK\r\n> ", b"+CWJAP:2\r\n\r\nFAIL\r\n"),
    ("1.7.6", "1.7.6", b"\r\nOK\r\n> ", b"+CWJAP:2\r\n\r\nFAIL\r\n"),
    ("2.2", "2.2.0", b"\r\nOK\r\n\r\n>", b"+CWJAP:2\r\n\r\nERROR\r\n"),
    ("2.2.0", "2.2.0", b"\r\nOK\r\n\r\n>", b"+CWJAP:2\r\n\r\nERROR\r\n"),
])
def test_esp_generations_differ_on_the_wire(firmware, version, prompt, failure, echo_server):
    fm, at = esp(firmware)
    with fm, at:
        assert fm.module.identity.revision == version
        assert fm.module.identity.gmr_lines[0].startswith(f"AT version:{version}.0(")
        assert at.command('AT+CWJAP="lab","wrong"') == failure
        at.command('AT+CWJAP="lab","pw"')
        at.command("AT+CIPMUX=1")
        at.command(f'AT+CIPSTART=0,"TCP","127.0.0.1",{echo_server.port}')
        at.write(b"AT+CIPSEND=0,3\r\n")
        assert at.read_quiet() == prompt


@pytest.mark.parametrize("firmware,frame", [("1.7", 1460), ("2.2", 2920)])
def test_esp_active_frames_are_as_large_as_the_generation_sends(firmware, frame):
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    blob = bytes(range(256)) * 24  # 6144 bytes

    def serve():
        conn, _ = server.accept()
        conn.sendall(blob)
        conn.recv(1)

    threading.Thread(target=serve, daemon=True).start()
    fm, at = esp(firmware)
    with fm, at:
        at.command('AT+CWJAP="lab","pw"')
        at.command("AT+CIPMUX=1")
        at.command(f'AT+CIPSTART=0,"TCP","127.0.0.1",{server.getsockname()[1]}')
        got, sizes = b"", []
        while len(got) < len(blob):
            head = at.read_until(rb"\+IPD,0,\d+:")
            size = int(head.rsplit(b",", 1)[1][:-1])
            sizes.append(size)
            got += at.read_exact(size)
        assert got == blob and max(sizes) == frame
    server.close()


def test_the_readme_names_every_option_and_command_table():
    import inspect
    from pathlib import Path

    from fakemodem.esp import EspModule
    from fakemodem.quectel import QuectelModule

    readme = (Path(__file__).resolve().parent.parent / "fakemodem" / "README.md").read_text()
    for module in (QuectelModule, EspModule):
        for name in inspect.signature(module.__init__).parameters:
            if name not in ("self", "serial", "faults", "allow_outside"):
                assert f"`{name}`" in readme, name
    assert "| command | emulated | generation / model | switch |" in readme
    for fields in profiles.unconfirmed_fields().values():
        for field in fields:
            assert f"`{field}`" in readme, field
