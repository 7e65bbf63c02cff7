"""The emulator's day-one situations byte for byte through the pty (plain pyserial, no atsock): the
SIM and its tries, the APN the network wants, where registration ends and how the three queries
disagree, the boot manners of real modules, and the same options as ``python -m fakemodem`` flags."""
import subprocess
import sys

import pytest

from fakemodem import FakeModem

from .at_client import AtPort

# the boot URCs come this long after the module starts: the test's port is open by then (pyserial
# flushes what came before it opened)
BOOT = dict(boot_delay=0.3)


def quectel(last_boot_line=rb"SMS DONE\r\n", **options):
    fm = FakeModem("quectel", **dict(BOOT, **options))
    at = AtPort(fm.port)
    at.read_until(last_boot_line)
    at.command("ATE0")
    at.command("AT+CMEE=1")
    return fm, at


# --- the SIM -----------------------------------------------------------------------------------------
def test_a_locked_sim_counts_wrong_pins_locks_to_its_puk_and_takes_the_puk():
    fm, at = quectel(sim="pin", pin="4321")
    with fm, at:
        assert at.command("AT+CPIN?") == b"\r\n+CPIN: SIM PIN\r\n\r\nOK\r\n"
        assert at.command('AT+QPINC="SC"') == b'\r\n+QPINC: "SC",3,10\r\n\r\nOK\r\n'
        assert at.command("AT+CIMI") == b"\r\n+CME ERROR: 11\r\n"          # the IMSI is behind the PIN
        assert at.command("AT+CEREG?") == b"\r\n+CEREG: 0,0\r\n\r\nOK\r\n"  # no usable SIM: no search
        assert at.command('AT+CPIN="0000"') == b"\r\n+CME ERROR: 16\r\n"
        assert at.command("AT+QPINC?") == b'\r\n+QPINC: "SC",2,10\r\n+QPINC: "P2",3,10\r\n\r\nOK\r\n'
        assert at.command("AT+CPIN=1111") == b"\r\n+CME ERROR: 16\r\n"     # unquoted, as the manual's example
        assert at.command('AT+CPIN="2222"') == b"\r\n+CME ERROR: 16\r\n"
        assert at.read_until(rb"\+CPIN: SIM PUK\r\n") == b"\r\n+CPIN: SIM PUK\r\n"
        assert at.command('AT+CPIN="4321"') == b"\r\n+CME ERROR: 12\r\n"  # the PIN alone will not do now
        assert at.command("AT+CPIN?") == b"\r\n+CPIN: SIM PUK\r\n\r\nOK\r\n"
        assert at.command('AT+CPIN="87654321","1111"') == b"\r\n+CME ERROR: 16\r\n"
        assert at.command('AT+QPINC="SC"') == b'\r\n+QPINC: "SC",0,9\r\n\r\nOK\r\n'
        assert at.command('AT+CPIN="12345678","5555"') == b"\r\nOK\r\n"
        assert at.read_until(rb"SMS DONE\r\n") == b"\r\n+CPIN: READY\r\n\r\n+QIND: SMS DONE\r\n"
        assert at.command("AT+CPIN?") == b"\r\n+CPIN: READY\r\n\r\nOK\r\n"
        assert at.command('AT+CPIN="5555"') == b"\r\n+CME ERROR: 3\r\n"    # nothing pending
        fm.reboot()                                                          # the PIN lock is on: asked again
        at.read_until(rb"\+CPIN: SIM PIN\r\n")
        at.read_until(rb"SMS DONE\r\n")
        at.command("ATE0")
        at.command("AT+CMEE=1")
        assert at.command('AT+CPIN="5555"') == b"\r\nOK\r\n"                # the new PIN from the PUK


def test_ten_wrong_puks_block_the_card_for_good():
    fm, at = quectel(sim="puk")
    with fm, at:
        for _ in range(10):
            assert at.command('AT+CPIN="00000000","1234"') == b"\r\n+CME ERROR: 16\r\n"
        assert at.command("AT+CPIN?") == b"\r\n+CME ERROR: 13\r\n"
        assert at.command('AT+CPIN="12345678","1234"') == b"\r\n+CME ERROR: 13\r\n"


@pytest.mark.parametrize("options, boot_line, cpin_error, not_pending", [
    (dict(sim="absent"), b"+CPIN: NOT READY", b"10", None),
    (dict(sim="absent", sim_absent_urc="NOT INSERTED"), b"+CPIN: NOT INSERTED", b"10", None),
    (dict(cpin_not_pending=4), b"+CPIN: READY", None, b"4"),
])
def test_the_sim_switches(options, boot_line, cpin_error, not_pending):
    fm = FakeModem("quectel", **BOOT, **options)
    with fm, AtPort(fm.port) as at:
        assert boot_line in at.read_until(rb"SMS DONE\r\n")
        at.command("ATE0")
        at.command("AT+CMEE=1")
        if cpin_error:
            assert at.command("AT+CPIN?") == b"\r\n+CME ERROR: " + cpin_error + b"\r\n"
            assert at.command("AT+QCCID") == b"\r\n+CME ERROR: 10\r\n"
        if not_pending:
            assert at.command('AT+CPIN="1234"') == b"\r\n+CME ERROR: " + not_pending + b"\r\n"


def test_without_the_state_urc_the_third_wrong_pin_locks_silently():
    fm, at = quectel(sim="pin", pin_state_urc=False)
    with fm, at:
        for _ in range(3):
            at.command('AT+CPIN="0000"')
        assert at.read_quiet() == b""
        assert at.command("AT+CPIN?") == b"\r\n+CPIN: SIM PUK\r\n\r\nOK\r\n"


# --- the APN ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("style, refusal", [("ERROR", b"\r\nERROR\r\n"), ("CME", b"\r\n+CME ERROR: 573\r\n")])
def test_only_the_required_apn_activates_the_context(style, refusal):
    fm, at = quectel(apn_required="internet.example", apn_error=573, ip_error_style=style)
    with fm, at:
        at.command('AT+QICSGP=1,1,"internet","","",0')
        assert at.command("AT+QIACT=1") == refusal
        assert at.command("AT+QIGETERROR").startswith(b"\r\n+QIGETERROR: 573,")
        at.command('AT+QICSGP=1,1,"Internet.Example","","",0')  # APNs compare without case
        assert at.command("AT+QIACT=1") == b"\r\nOK\r\n"


# --- registration ------------------------------------------------------------------------------------
@pytest.mark.parametrize("registration, mix, expected", [
    ("home", "same", {"+CREG": 1, "+CGREG": 1, "+CEREG": 1}),
    ("roaming", "same", {"+CREG": 5, "+CGREG": 5, "+CEREG": 5}),
    ("denied", "same", {"+CREG": 3, "+CGREG": 3, "+CEREG": 3}),
    ("searching", "same", {"+CREG": 2, "+CGREG": 2, "+CEREG": 2}),
    ("home", "lte-only", {"+CREG": 0, "+CGREG": 0, "+CEREG": 1}),     # the radio on, CS and GPRS at 0
    ("roaming", "gprs-only", {"+CREG": 5, "+CGREG": 5, "+CEREG": 4}),  # CEREG unknown
])
def test_where_registration_ends_and_how_the_queries_disagree(registration, mix, expected):
    fm, at = quectel(registration=registration, registration_mix=mix)
    with fm, at:
        for name, stat in expected.items():
            assert at.command(f"AT{name}?") == f"\r\n{name}: 0,{stat}\r\n\r\nOK\r\n".encode()
        at.command("AT+CEREG=2")
        registered = expected["+CEREG"] in (1, 5)
        assert at.command("AT+CEREG?").startswith(f"\r\n+CEREG: 2,{expected['+CEREG']}".encode()
                                                  + (b',"' if registered else b"\r\n"))
        assert at.command("AT+CSQ") == b"\r\n+CSQ: 19,99\r\n\r\nOK\r\n"  # a cell that refuses is heard all the same
        at.command('AT+QICSGP=1,1,"internet","","",0')
        assert at.command("AT+QIACT=1") == (b"\r\nOK\r\n" if registration in ("home", "roaming") else b"\r\nERROR\r\n")


@pytest.mark.parametrize("no_signal_stat", [2, 4, 0])
def test_no_signal_never_registers(no_signal_stat):
    fm, at = quectel(identity={"csq": (99, 99)}, no_signal_stat=no_signal_stat)
    with fm, at:
        assert at.command("AT+CEREG?") == b"\r\n+CEREG: 0,%d\r\n\r\nOK\r\n" % no_signal_stat
        assert at.command("AT+CSQ") == b"\r\n+CSQ: 99,99\r\n\r\nOK\r\n"
        assert at.command("AT+COPS?") == b"\r\n+COPS: 0\r\n\r\nOK\r\n"


def test_registration_urcs_follow_the_mix():
    fm, at = quectel(registration_mix="lte-only")
    with fm, at:
        for name in ("AT+CREG=1", "AT+CGREG=1", "AT+CEREG=1"):
            at.command(name)
        fm.lose_registration(0.2)
        lost = at.read_until(rb"\+CEREG: 2\r\n")
        assert b"+CREG: 0" in lost and b"+CGREG: 0" in lost
        assert b"+CEREG: 1\r\n" in at.read_until(rb"\+CEREG: 1\r\n")


# --- boot manners --------------------------------------------------------------------------------------
def test_a_module_that_was_on_goes_down_ignores_the_line_then_boots_to_app_rdy():
    fm = FakeModem("quectel", boot_manner="warm", boot_delay=0.5)
    with fm, AtPort(fm.port) as at:
        at.read_until(rb"APP RDY\r\n")         # (the first boot: its start may come before the port opened)
        at.command("AT")
        fm.reboot()                              # every boot of a warm module goes so
        assert at.read_until(rb'pdpdeact",1\r\n') == b'\r\nPOWERED DOWN\r\n\r\n+QIURC: "pdpdeact",1\r\n'
        at.write(b"AT\r")                        # while it is down: lost
        assert at.read_until(rb"APP RDY\r\n") == (b"\r\nRDY\r\n\r\n+CFUN: 1\r\n\r\n+CPIN: READY\r\n"
                                                  b"\r\n+QIND: SMS DONE\r\n\r\nAPP RDY\r\n")
        assert at.command("AT") == b"AT\r\r\nOK\r\n"


def test_a_bg95_answers_error_from_rdy_until_app_rdy():
    fm = FakeModem("quectel", model="BG95", app_ready_delay=1.0, **BOOT)
    with fm, AtPort(fm.port) as at:
        at.read_until(rb"SMS DONE\r\n")
        assert at.command("AT") == b"AT\r\r\nERROR\r\n"
        at.read_until(rb"\r\nAPP RDY\r\n")
        assert at.command("AT") == b"AT\r\r\nOK\r\n"


def test_a_reboot_boots_on_the_modules_own_clock(dialect):
    """Issue 21 item 10: the old incarnation does not wait for the host's next command."""
    fm = FakeModem(dialect, **BOOT)
    ready = rb"SMS DONE\r\n" if dialect == "quectel" else rb"ready\r\n"
    with fm, AtPort(fm.port, b"\r" if dialect == "quectel" else b"\r\n") as at:
        at.read_until(ready)
        at.write(b"AT+GMR")                      # half a command: the restart drops it
        fm.reboot()
        at.read_until(ready)                     # with the host silent
        assert at.command("AT").endswith(b"\r\nOK\r\n")


# --- ESP boot and answer formats ------------------------------------------------------------------------
def esp(firmware="1.7", **options):
    fm = FakeModem("esp8285", firmware=firmware, networks={"lab": "pw"}, **dict(BOOT, **options))
    return fm, AtPort(fm.port, b"\r\n")


def test_esp_rom_text_vendor_banner_and_ai_thinker_gmr():
    fm, at = esp(boot_noise="rom", vendor_banner="Ai-Thinker Technology Co., Ltd.", gmr_style="ai-thinker")
    with fm, at:
        boot = at.read_until(rb"ready\r\n")
        assert boot.startswith(b"\r\n ets Jan  8 2013,rst cause:2, boot mode:(3,6)\r\n")
        assert b"jump to run user1 @ 1000\r\n" in boot
        assert boot.endswith(b"\r\nAi-Thinker Technology Co., Ltd.\r\n\r\nready\r\n")
        at.command("ATE0")
        assert at.command("AT+GMR") == (b"AT version:1.7.4.0(Jul  1 2016 20:04:45)\r\nSDK version:1.5.4.1(39cb9a32)\r\n"
                                        b"Ai-Thinker Technology Co. Ltd.\r\nDec  2 2016 14:21:16\r\nOK\r\n")


def test_an_esp_whose_firmware_does_not_start_prints_invalid_and_takes_nothing():
    fm, at = esp(boot_outcome="invalid", vendor_banner="Ai-Thinker Technology Co., Ltd.")
    with fm, at:
        assert at.read_until(rb"Invalid\r\n").endswith(b"Co., Ltd.\r\n\r\nInvalid\r\n")
        at.write(b"AT\r\n")
        assert at.read_quiet(0.3) == b""


def test_an_esp_that_never_says_ready_but_answers():
    fm, at = esp(boot_outcome="silent")
    with fm, at:
        for _ in range(100):                     # probe as a driver does: input before boot is lost
            at.write(b"AT\r\n")
            answer = at.read_quiet(0.1)
            if answer:
                break
        assert answer == b"AT\r\n\r\nOK\r\n"


def test_esp_2x_refusing_at_rst():
    fm, at = esp("2.2", rst_answer="ERROR")
    with fm, at:
        at.read_until(rb"ready\r\n")
        assert at.command("AT+RST") == b"AT+RST\r\n\r\nERROR\r\n"
        assert at.read_quiet(0.2) == b""


def test_the_fakemodem_command_line_takes_the_day_one_options():
    done = subprocess.run([sys.executable, "-m", "fakemodem", "esp8285", "--sim", "pin"], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 2 and "--sim is not an option of the esp8285 dialect" in done.stderr
    done = subprocess.run([sys.executable, "-m", "fakemodem", "quectel", "--option", "sim=lost"], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 2 and "sim is one of ready, pin, puk, absent" in done.stderr
    server = subprocess.Popen([sys.executable, "-m", "fakemodem", "quectel", "--sim", "pin", "--pin", "4321",
                               "--registration", "roaming", "--apn-required", "internet", "--identity", "csq=7,99",
                               "--option", "apn_error=573"], stdout=subprocess.PIPE, text=True)
    try:
        port = server.stdout.readline().strip()
        with AtPort(port) as at:
            at.read_until(rb"SMS DONE\r\n")
            at.command("ATE0")
            assert at.command("AT+CPIN?") == b"\r\n+CPIN: SIM PIN\r\n\r\nOK\r\n"
            assert at.command("AT+CPIN=4321") == b"\r\nOK\r\n"
            assert b"+CEREG: 0,5" in at.command("AT+CEREG?")
            assert b"+CSQ: 7,99" in at.command("AT+CSQ")
            at.command('AT+QICSGP=1,1,"other","","",0')
            assert at.command("AT+QIACT=1").endswith(b"ERROR\r\n")
            assert at.command("AT+QIGETERROR").startswith(b"\r\n+QIGETERROR: 573,")
    finally:
        server.terminate()
        server.wait(30)
