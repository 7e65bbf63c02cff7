"""Port roles from USB data, on list_ports-like records of the layouts in info-and-ports.md §2.

No module was plugged in: the records below are what pyserial's ``list_ports`` builds from sysfs for
those layouts (``location`` ends in ``:<configuration>.<interface>`` when the device has several
interfaces; udev's by-id names end in ``-ifNN-port0``), so the mapping is checked on recorded layouts only.
"""
import pytest

from atsock.cli.portroles import PortFacts, interface_number, role


def quectel(pid, interface, device=None, by_id=True):
    return PortFacts(device or f"/dev/ttyUSB{interface}", 0x2C7C, pid, None, f"1-1.4:1.{interface}",
                     "Quectel", "LTE Module" if pid != 0x0700 else "Quectel LPWA Module", None,
                     f"/dev/serial/by-id/usb-Quectel_LTE_Module-if{interface:02d}-port0" if by_id else None)


@pytest.mark.parametrize("pid, model", [(0x0121, "EC21"), (0x0125, "EC25/EG25"), (0x0191, "EG91"), (0x0195, "EG95"),
                                        (0x0296, "BG96"), (0x0306, "EP06/EG06"), (0x0512, "EM12/EG12")])
def test_qualcomm_family_layout(pid, model):
    roles = [role(quectel(pid, n)) for n in range(4)]
    assert [r.kind for r in roles] == ["DM", "NMEA", "AT", "modem"]
    assert all(r.device == f"Quectel {model}" for r in roles)
    assert [r.probe for r in roles] == [False, False, True, True]  # never send AT to DIAG or NMEA


def test_bg95_in_modem_mode_has_no_interface_3():
    ports = [quectel(0x0700, n, device=f"/dev/ttyUSB{i}") for i, n in enumerate((0, 1, 2, 4))]
    assert [(p.device, role(p).kind) for p in ports] == [
        ("/dev/ttyUSB0", "DM"), ("/dev/ttyUSB1", "NMEA"), ("/dev/ttyUSB2", "AT"), ("/dev/ttyUSB3", "modem")]
    assert role(ports[0]).device == "Quectel BG95"


def test_ec200u_ports_are_all_probed():
    ports = [quectel(0x0901, n, device=f"/dev/ttyUSB{n - 2}") for n in range(2, 9)]
    assert {role(p).kind for p in ports} == {"unknown"}
    assert all(role(p).probe for p in ports)
    assert "probe each port" in role(ports[0]).note


def test_interface_number_from_location_or_by_id_name():
    assert interface_number(quectel(0x0125, 2)) == 2
    no_location = PortFacts("/dev/ttyUSB2", 0x2C7C, 0x0125, by_id="/dev/serial/by-id/usb-Quectel_EG25-if02-port0")
    assert interface_number(no_location) == 2 and role(no_location).kind == "AT"
    single = PortFacts("/dev/ttyUSB0", 0x10C4, 0xEA60, location="1-1.2")  # one interface: no suffix
    assert interface_number(single) is None


def test_quectel_without_interface_number_is_probed():
    bare = PortFacts("/dev/ttyUSB5", 0x2C7C, 0x0125)
    assert role(bare).kind == "unknown" and role(bare).probe


@pytest.mark.parametrize("vid, pid, chip", [(0x10C4, 0xEA60, "Silicon Labs CP210x"), (0x1A86, 0x7523, "WCH CH340"),
                                            (0x0403, 0x6001, "FTDI FT232R"), (0x067B, 0x2303, "Prolific PL2303"),
                                            (0x1A86, 0x1234, "WCH bridge")])
def test_usb_uart_bridges_are_likely_esp_boards(vid, pid, chip):
    found = role(PortFacts("/dev/ttyUSB0", vid, pid, location="1-1.3"))
    assert found.kind == "bridge" and found.device.startswith(chip) and found.probe
    assert "ESP8266" in found.note


def test_plain_ports_and_others():
    assert role(PortFacts("/dev/pts/3")).kind == "serial" and role(PortFacts("/dev/ttyAMA0")).probe
    assert role(PortFacts("/dev/ttyACM0", 0x303A, 0x1001)).kind == "espressif"
    unknown = role(PortFacts("/dev/ttyACM0", 0x2341, 0x0043))
    assert unknown.kind == "unknown" and not unknown.probe
