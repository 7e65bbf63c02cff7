"""ESP-AT dialect: ESP8266/ESP8285 with NonOS AT 1.x, and ESP-AT 2.x firmware.

``codes`` (limits, timeouts, join errors), ``bringup`` (reset, firmware generation, Wi-Fi join),
``links`` (CIPSTART/CIPSEND/CIPRECVDATA/CIPSERVER/CIPCLOSE), ``dialect`` (the whole). Wire facts:
``shared/at-reference/esp-at.md``.
"""
from .dialect import EspDialect

__all__ = ["EspDialect"]
