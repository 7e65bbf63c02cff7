"""What a new user meets first, end to end (atsock -> pty -> emulator): no SIM, a locked SIM, a
wrong PIN, a denied or absent network, a refused APN, a module that is still starting. Each
failure is an OSError whose message names the case and what to do, with the parts a front end
needs as attributes (``ModemError.reason``, ``.setting``, ``.final``...)."""
import errno
import threading

import pytest

import atsock
from atsock import errors
from fakemodem import FakeModem

from .test_recovery import StateLog, wait_for


def open_quectel(fm, **settings):
    return atsock.open_modem(fm.port, dialect="quectel", apn="internet", **settings)


def sent(fm, prefix):
    return [line for line in fm.received_commands if line.upper().startswith(prefix)]


# --- the SIM -----------------------------------------------------------------------------------------
def test_no_sim_is_named_with_what_to_do():
    with FakeModem("quectel", sim="absent") as fm:
        with pytest.raises(errors.SimError) as failure:
            open_quectel(fm)
    error = failure.value
    assert (error.errno, error.state, error.final) == (errno.ENODEV, "absent", True)
    assert "no SIM card" in str(error) and "seat a SIM" in str(error)
    assert errors.docs_link("troubleshooting", "sim") in str(error)


def test_a_locked_sim_without_a_pin_names_the_setting():
    with FakeModem("quectel", sim="pin") as fm:
        with pytest.raises(errors.SimError) as failure:
            open_quectel(fm)
        assert not sent(fm, "AT+CPIN=")
    error = failure.value
    assert (error.errno, error.state, error.tries_left, error.setting) == (errno.EACCES, "pin", 3, "pin")
    assert "locked with a PIN (3 attempts left" in str(error) and "pin=..." in str(error)
    assert "--pin" in error.message(lambda setting: "--" + setting)   # a front end spells it its own way


def test_the_right_pin_unlocks_the_sim():
    with FakeModem("quectel", sim="pin", pin="4321") as fm, open_quectel(fm, pin="4321") as modem:
        assert modem.state == "online"
        assert sent(fm, "AT+CPIN=") == ['AT+CPIN="4321"']


def test_a_wrong_pin_is_tried_once_and_never_again():
    with FakeModem("quectel", sim="pin", pin="4321") as fm:
        with pytest.raises(errors.SimError) as failure:
            open_quectel(fm, pin="1111")
        assert sent(fm, "AT+CPIN=") == ['AT+CPIN="1111"']
        assert (failure.value.state, failure.value.tries_left) == ("wrong-pin", 2)
        assert "refused the PIN (2 attempts left" in str(failure.value)

        # a modem that came up with its PIN meets a card whose PIN changed (a swapped card) at a reboot:
        # the recovery offers the PIN once, and never again, however often the module restarts
        modem = open_quectel(fm, pin="4321")
        log = StateLog(modem)
        fm.call(setattr, fm.module.sim, "pin", "9999")
        fm.reboot()
        assert wait_for(lambda: modem.state == "failed")
        assert sent(fm, "AT+CPIN=") == ['AT+CPIN="1111"', 'AT+CPIN="4321"', 'AT+CPIN="4321"']
        assert log.states().count("recovering") == 1        # a refused PIN is final: no second attempt
        assert fm.call(lambda: fm.module.sim.pin_tries) == 2
        modem.close()


def test_the_cards_last_attempt_is_not_spent():
    with FakeModem("quectel", sim="pin") as fm:
        fm.call(setattr, fm.module.sim, "pin_tries", 1)
        with pytest.raises(errors.SimError) as failure:
            open_quectel(fm, pin="1234")
        assert not sent(fm, "AT+CPIN=")
    assert failure.value.tries_left == 1 and "one more PIN attempt" in str(failure.value)


def test_a_sim_that_wants_its_puk():
    with FakeModem("quectel", sim="puk") as fm:
        with pytest.raises(errors.SimError) as failure:
            open_quectel(fm, pin="1234")
        assert not sent(fm, "AT+CPIN=")
    assert (failure.value.errno, failure.value.state) == (errno.EACCES, "puk") and "PUK" in str(failure.value)


# --- registration --------------------------------------------------------------------------------------
@pytest.mark.parametrize("mix", ["same", "lte-only", "gprs-only"])
def test_a_denied_registration_is_final_and_does_not_wait_for_the_time_out(mix):
    with FakeModem("quectel", registration="denied", registration_mix=mix) as fm:
        with pytest.raises(errors.RegistrationError) as failure:
            open_quectel(fm, registration_timeout=3600)
        polls = len(sent(fm, "AT+CEREG?"))
    error = failure.value
    assert (error.errno, error.denied, error.final, error.state) == (errno.ENETUNREACH, True, True,
                                                                      "registration denied")
    assert polls == 2                                   # two polls in a row, not an hour of them
    assert "denied the registration" in str(error) and "{" not in str(error)  # in words, not a dict


def test_roaming_counts_as_registered_and_the_modem_says_so():
    with FakeModem("quectel", registration="roaming") as fm, open_quectel(fm) as modem:
        assert modem.registration == "registered (roaming)"
    with FakeModem("quectel") as fm, open_quectel(fm) as modem:
        assert modem.registration == "registered (home)"


@pytest.mark.parametrize("mix", ["lte-only", "gprs-only"])
def test_any_domain_registered_is_registered(mix, echo_server):
    with FakeModem("quectel", registration_mix=mix) as fm, open_quectel(fm) as modem:
        assert modem.registration == "registered (home)"
        sock = modem.socket()
        sock.connect(("127.0.0.1", echo_server.port))
        fm.lose_registration(0.3)      # URCs of every domain, some of them 0 all along: one loss, then back
        assert wait_for(lambda: modem.state == "online" and modem.recoveries == 1)
        sock.write(b"still here")
        assert sock.read(10) == b"still here"
        sock.close()


def test_no_signal_is_named_when_registration_times_out():
    with FakeModem("quectel", identity={"csq": (99, 99)}) as fm:
        with pytest.raises(errors.RegistrationError) as failure:
            open_quectel(fm, registration_timeout=1)
    error = failure.value
    assert (error.errno, error.signal, error.denied, error.setting) == (errno.ENETUNREACH, 99, False,
                                                                         "registration_timeout")
    assert "not registered within 1 s (LTE, GPRS, CS: searching; no signal, CSQ 99)" in str(error)


def test_the_progress_callback_says_what_bring_up_waits_for():
    shown = []
    with FakeModem("quectel", registration_delay=1.5, registration_mix="lte-only") as fm:
        with open_quectel(fm, progress=shown.append) as modem:
            assert modem.state == "online"
    assert shown == ["waiting for the network: LTE: searching; GPRS, CS: not registered, not searching"]


# --- the APN and the module's own causes ---------------------------------------------------------------
@pytest.mark.parametrize("style", ["ERROR", "CME"])
def test_a_refused_apn_names_the_apn_and_the_modules_code(style):
    with FakeModem("quectel", apn_required="internet.example", ip_error_style=style) as fm:
        with pytest.raises(errors.DataContextError) as failure:
            open_quectel(fm)
        asked = sent(fm, "AT+QIGETERROR")
    error = failure.value
    assert (error.errno, error.apn, error.modem_code, error.setting) == (errno.ENETUNREACH, "internet", 561, "apn")
    assert "APN 'internet' (module error 561: PDP context opening failed)" in str(error)
    assert errors.docs_link("troubleshooting", "pdp-activation") in str(error)
    assert asked == (["AT+QIGETERROR"] if style == "ERROR" else [])   # +CME ERROR: 561 carries it already
    with FakeModem("quectel", apn_required="internet.example") as fm:
        with atsock.open_modem(fm.port, apn="internet.example") as modem:
            assert modem.state == "online"


def test_a_refused_qiopen_and_qidnsgip_carry_the_modules_cause():
    with FakeModem("quectel", hosts={"echo.test": "127.0.0.1"}) as fm, open_quectel(fm, recover=False) as modem:
        fm.drop_network(announce=False)       # the context went; its "pdpdeact" never came
        with pytest.raises(OSError) as connect:
            modem.socket().connect(("127.0.0.1", 7))
        with pytest.raises(OSError) as lookup:
            modem.getaddrinfo("echo.test", 7)
    for failure in (connect, lookup):
        assert (failure.value.errno, failure.value.modem_code) == (errno.ENETUNREACH, 561)
        assert "modem error 561: PDP context opening failed" in str(failure.value)


# --- a module still starting --------------------------------------------------------------------------
def test_error_to_at_until_app_rdy_is_waited_out():
    with FakeModem("quectel", model="BG95", app_ready_delay=1.5) as fm, open_quectel(fm) as modem:
        assert modem.state == "online"
        probes = [line for line in fm.received_commands if line == "AT"]
    assert 2 <= len(probes) < 20      # a pause after each refused probe: the budget's twenty are not spent at once


def test_a_module_that_answers_only_error_is_not_called_silent():
    with FakeModem("quectel", model="BG95", app_ready_delay=60) as fm:
        with pytest.raises(errors.StartupError) as failure:
            open_quectel(fm, sync_timeout=5)
    assert "answers ERROR to AT" in str(failure.value) and "does not answer" not in str(failure.value)


def test_a_module_that_was_on_goes_down_and_comes_back(echo_server):
    with FakeModem("quectel", boot_manner="warm", boot_delay=1.0) as fm, open_quectel(fm) as modem:
        assert modem.state == "online" and modem.recoveries == 0
        sock = modem.socket()
        sock.connect(("127.0.0.1", echo_server.port))
        fm.reboot()               # POWERED DOWN, "pdpdeact", a second of deafness, RDY ... APP RDY
        assert wait_for(lambda: modem.state == "online" and modem.recoveries == 1)
        with pytest.raises(OSError) as failure:
            sock.recv(10)
        assert failure.value.errno in (errno.ENETDOWN, errno.ECONNRESET)  # whichever notice came first
        sock.close()


# --- the module reboots on its own clock (issue 21 item 10) -------------------------------------------------
def test_a_blocking_recv_gets_econnreset_when_the_module_reboots(modem, fake_modem, echo_server):
    sock = modem.socket()
    sock.connect(("127.0.0.1", echo_server.port))
    outcome = []

    def receive():
        try:
            outcome.append(sock.recv(10))
        except OSError as exc:
            outcome.append(exc)

    reader = threading.Thread(target=receive)
    reader.start()
    fake_modem.reboot()                      # the host sends nothing meanwhile
    reader.join(30)
    assert isinstance(outcome[0], OSError) and outcome[0].errno == errno.ECONNRESET
    assert wait_for(lambda: modem.state == "online")
    sock.close()


# --- the command line --------------------------------------------------------------------------------
def test_the_command_line_names_its_own_flag_and_shows_what_it_waits_for(http_server):
    from .cli_support import run_atsock
    with FakeModem("quectel", sim="pin") as fm:
        done = run_atsock("get", fm.port, "--dialect", "quectel", "--apn", "internet",
                          "http://www.test/")
    assert done.returncode == 69  # no modem online: atsock get's own status for it
    assert "the SIM is locked with a PIN (3 attempts left" in done.stderr and "give it with --pin" in done.stderr
    assert "pin=..." not in done.stderr
    with FakeModem("quectel", registration="searching", hosts={"www.test": "127.0.0.1"}) as fm:
        done = run_atsock("get", fm.port, "--dialect", "quectel", "--apn", "internet",
                          "--registration-timeout", "1", "http://www.test/")
    assert done.returncode == 69
    assert "atsock: waiting for the network: LTE, GPRS, CS: searching" in done.stderr
    assert "not registered within 1 s (LTE, GPRS, CS: searching; -75 dBm (CSQ 19))" in done.stderr  # cells, none takes it
    assert "--registration-timeout" in done.stderr


def test_every_modem_error_can_be_told_apart_without_reading_its_text():
    for name in ("SimError", "RegistrationError", "DataContextError", "StartupError"):
        cls = getattr(atsock, name)
        assert cls is getattr(errors, name) and issubclass(cls, atsock.ModemError) and issubclass(cls, OSError)
