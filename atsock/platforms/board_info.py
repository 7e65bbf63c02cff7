"""MaixPy's ``board_info``: pin names of a Sipeed board, as plain numbers (a stand-in; nothing is wired).

The numbers are those of the MaixPy board definitions for the ESP8285 wiring and the common pins;
any other ``board_info.NAME`` is a pin number too, so board-specific set-up lines run.
"""
import sys
import types

_PINS = {"WIFI_TX": 6, "WIFI_RX": 7, "WIFI_EN": 8, "LED_R": 14, "LED_G": 13, "LED_B": 12, "BOOT_KEY": 16}


class _BoardInfo(types.ModuleType):
    def __getattr__(self, name: str) -> int:
        if name.startswith("_"):
            raise AttributeError(name)
        return _PINS.get(name, 0)


globals().update(_PINS)
sys.modules[__name__].__class__ = _BoardInfo
