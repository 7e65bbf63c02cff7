"""The readers behind ``atsock info``, on the answers recorded in shared/at-reference/info-and-ports.md.

Each case is the text between the CRLFs of a transcript or a quoted log line; no hardware was at
hand, so these recorded answers are the only real-module evidence the readers are checked on.
"""
import pytest

from atsock.cli import answers


# --- Quectel ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("lines, model, revision", [
    (["Quectel", "BG96", "Revision: BG96MAR02A07M1G"], "BG96", "BG96MAR02A07M1G"),          # §1.2
    (["Quectel", "BG95-M3", "Revision: BG95M3LAR02A03"], "BG95-M3", "BG95M3LAR02A03"),      # §4.1
    (["Quectel", "EC200U", "Revision: EC200UCNAAR03A15M08"], "EC200U", "EC200UCNAAR03A15M08"),
    (["Quectel", "EG25", "Revision: EG25GGBR07A08M2G"], "EG25", "EG25GGBR07A08M2G"),
])
def test_ati(lines, model, revision):
    assert answers.ati(lines) == {"manufacturer": "Quectel", "model": model, "revision": revision}


def test_ati_that_is_short_leaves_fields_empty():
    assert answers.ati(["Quectel"]) == {"manufacturer": "Quectel", "model": None, "revision": None}


def test_bare_values_of_the_transcript():
    assert answers.bare_value(["BG95M3LAR02A03_01.006.01.006"]) == "BG95M3LAR02A03_01.006.01.006"
    assert answers.bare_value(["866349041749536"]) == "866349041749536"
    assert answers.bare_value(["901405100000001"]) == "901405100000001"
    assert answers.bare_value([]) is None


def test_iccid_with_its_filler_f():
    assert answers.iccid(["+QCCID: 8939560000000806706F"]) == "8939560000000806706F"
    assert answers.iccid(["+CCID: 89014103211118510720"]) == "89014103211118510720"
    assert answers.iccid(["something else"]) is None


@pytest.mark.parametrize("rssi, dbm, bars", [(0, -113, 0), (2, -109, 1), (10, -93, 2), (15, -83, 3),
                                             (19, -75, 3), (20, -73, 4), (31, -51, 4), (99, None, None)])
def test_csq_in_dbm_and_bars(rssi, dbm, bars):
    assert answers.csq([f"+CSQ: {rssi},99"]) == {"rssi": rssi, "ber": 99, "dbm": dbm, "bars": bars}


def test_qcsq_by_system_mode():
    emtc = answers.qcsq(['+QCSQ: "eMTC",-62,-87,111,-12'])                                   # §4.1, BG95 names
    assert (emtc["mode"], emtc["rssi"], emtc["rsrp"], emtc["sinr_db"], emtc["rsrq"], emtc["bars"]) == \
        ("eMTC", -62, -87, 2.2, -12, 3)
    catm = answers.qcsq(['+QCSQ: "CAT-M1",-70,-99,50,-14'])                                  # BG96 names
    assert (catm["rsrp"], catm["sinr_db"], catm["bars"]) == (-99, -10.0, 2)
    gsm = answers.qcsq(['+QCSQ: "GSM",-75'])                                                 # FreeRTOS issue #8
    assert (gsm["mode"], gsm["rssi"], gsm["rsrp"], gsm["bars"]) == ("GSM", -75, None, 3)
    none = answers.qcsq(['+QCSQ: "NOSERVICE"'])
    assert (none["mode"], none["rssi"], none["bars"], none["values"]) == ("NOSERVICE", None, None, [])
    unknown = answers.qcsq(['+QCSQ: "WCDMA",-80,-85,-7'])
    assert (unknown["mode"], unknown["values"], unknown["bars"]) == ("WCDMA", [-80, -85, -7], None)


def test_cops():
    assert answers.cops(['+COPS: 0,0,"NTT DOCOMO",7']) == {                                  # §1.4
        "mode": "automatic", "format": 0, "operator": "NTT DOCOMO", "act": 7, "technology": "LTE"}
    assert answers.cops(['+COPS: 0,0,"Example Net",8'])["technology"] == "LTE Cat-M1"
    assert answers.cops(["+COPS: 0"]) == {"mode": "automatic", "format": None, "operator": None, "act": None,
                                          "technology": None}


def test_qnwinfo():
    assert answers.qnwinfo(['+QNWINFO: "EDGE","51503","GSM 1800",698']) == {                 # §1.5, BG96 on 2G
        "technology": "EDGE", "mccmnc": "51503", "band": "GSM 1800", "channel": 698, "text": None}
    assert answers.qnwinfo(['+QNWINFO: "eMTC","24701","LTE BAND 20",6300'])["band"] == "LTE BAND 20"
    assert answers.qnwinfo(["+QNWINFO: No Service"])["text"] == "No Service"


@pytest.mark.parametrize("line, state, registered", [
    ("+CEREG: 0,1", "registered (home)", True), ("+CEREG: 2,5,\"1A2B\",\"01A2B3C\",7", "registered (roaming)", True),
    ("+CEREG: 0,2", "searching", False), ("+CEREG: 0,3", "registration denied", False),
])
def test_registration(line, state, registered):
    result = answers.registration([line], "+CEREG:")
    assert (result["state"], result["registered"]) == (state, registered)


def test_data_context_answers():
    assert answers.qicsgp(['+QICSGP: 1,"internet","user","secret",1']) == {
        "type": "IPv4", "apn": "internet", "user": "user"}                                    # no password
    assert answers.qiact(['+QIACT: 1,1,1,"10.64.12.7"', '+QIACT: 2,0,1']) == {1: ["10.64.12.7"]}
    assert answers.cgpaddr(['+CGPADDR: 1,"10.225.154.84"']) == {1: "10.225.154.84"}          # §1.8
    assert answers.cgpaddr(["+CGPADDR: 1"]) == {1: None}


# --- Espressif -------------------------------------------------------------------------------------
def test_gmr_1x():
    lines = ["AT version:1.7.4.0(May 11 2020 19:13:04)", "SDK version:3.0.4(9532ceb)",
             "compile time:May 27 2020 10:12:17", "Bin version(Wroom 02):1.7.4"]                # esp-at.md §1
    version = answers.gmr(lines)
    assert (version["at_version"], version["generation"], version["sdk"], version["chip"]) == \
        ("1.7.4.0", 1, "3.0.4(9532ceb)", None)


def test_gmr_2x():
    lines = ["AT version:2.2.0.0-dev(ca41ec4 - ESP32 - Sep 16 2020 11:28:17)", "SDK version:v4.0.1-193-ge7ac221b4",
             "compile time(98b95fc):Oct 29 2020 11:23:25", "Bin version:2.1.0(MINI-1)"]      # §4.3
    version = answers.gmr(lines)
    assert (version["at_version"], version["generation"], version["chip"], version["module"]) == \
        ("2.2.0.0", 2, "ESP32", "MINI-1")
    assert version["compile_time"] == "Oct 29 2020 11:23:25"


def test_gmr_of_something_else():
    assert answers.gmr(["BG96MAR02A07M1G"]) is None


def test_station_mac():
    assert answers.station_mac(['+CIPSTAMAC:"a4:cf:12:00:11:22"']) == "a4:cf:12:00:11:22"      # §4.3
    assert answers.station_mac(["+CIPSTAMAC_CUR:A4:CF:12:00:11:22"]) == "a4:cf:12:00:11:22"


def test_current_ap_2x_1x_and_no_ap():
    ap = answers.current_ap(['+CWJAP:"lab-net","9c:53:22:10:20:30",6,-58,0,1,3,0,1'])          # §4.3
    assert ap == {"ssid": "lab-net", "bssid": "9c:53:22:10:20:30", "channel": 6, "rssi": -58, "bars": 3}
    old = answers.current_ap(['+CWJAP_CUR:"lab-net","9c:53:22:10:20:30",11,-90,0'])
    assert (old["channel"], old["rssi"], old["bars"]) == (11, -90, 0)
    assert answers.current_ap(["No AP"]) is None


def test_an_ssid_with_quotes_and_commas_stays_whole():
    ap = answers.current_ap(['+CWJAP:"a","b",c","9c:53:22:10:20:30",1,-50,0'])
    assert ap["ssid"] == 'a","b",c' and ap["bars"] == 4


def test_station_addresses():
    lines = ['+CIPSTA:ip:"192.168.4.23"', '+CIPSTA:gateway:"192.168.4.1"', '+CIPSTA:netmask:"255.255.255.0"']
    assert answers.station_addresses(lines) == {"ip": "192.168.4.23", "gateway": "192.168.4.1",
                                                "netmask": "255.255.255.0"}
    assert answers.cifsr(['+CIFSR:STAIP,"192.168.4.23"', '+CIFSR:STAMAC,"a4:cf:12:00:11:22"']) == {
        "STAIP": "192.168.4.23", "STAMAC": "a4:cf:12:00:11:22"}
