"""What an ESP module prints while it starts and what older firmware answers to AT+GMR, as logs of
real modules show it (``esp-at.md`` §3; the field logs the README's table of guesses names).

* ``boot_noise``: the ESP8266 ROM prints its boot report at 74880 baud on the AT UART. A host at
  115200 reads it as noise (True or "garbage"); "rom" gives the text itself (a host at 74880, or
  a log that shows it), ``ets Jan  8 2013,rst cause:2, boot mode:(3,6)`` and the loader's lines,
  then the noise of the switch to the AT firmware's rate.
* ``vendor_banner``: a line the firmware's vendor prints before ``ready`` (AI-Thinker builds:
  ``Ai-Thinker Technology Co., Ltd.``).
* ``boot_outcome``: "ready" (the AT firmware is up), "invalid" (it prints ``Invalid`` and nothing
  more, and takes no commands: the log's module never came up), "silent" (no ``ready``, although
  it answers commands).
* ``gmr_style``: "espressif" (the profile's lines, a blank line, ``OK``) or "ai-thinker" (AT
  1.2/1.3 builds by AI-Thinker: the vendor's name and a build date after the SDK line, and ``OK``
  straight after the last line).
"""
import os

NOISE = ("garbage", "rom")
OUTCOMES = ("ready", "invalid", "silent")
GMR_STYLES = ("espressif", "ai-thinker")

ROM_TEXT = (
    " ets Jan  8 2013,rst cause:2, boot mode:(3,6)", "",
    "load 0x40100000, len 1856, room 16 ", "tail 0", "chksum 0x63",
    "load 0x3ffe8000, len 776, room 8 ", "tail 0", "chksum 0x02",
    "load 0x3ffe8310, len 552, room 8 ", "tail 0", "chksum 0x79", "csum 0x79", "",
    "2nd boot version : 1.5", "  SPI Speed      : 40MHz", "  SPI Mode       : DIO",
    "  SPI Flash Size & Map: 8Mbit(512KB+512KB)", "jump to run user1 @ 1000", "",
)
AI_THINKER_GMR = ("AT version:{version}.0(Jul  1 2016 20:04:45)", "SDK version:1.5.4.1(39cb9a32)",
                  "Ai-Thinker Technology Co. Ltd.", "Dec  2 2016 14:21:16")


def check(boot_noise, vendor_banner: str, boot_outcome: str, gmr_style: str) -> str:
    """The noise setting as one of NOISE or "" (none); ValueError for a value no option has."""
    noise = "garbage" if boot_noise is True else (boot_noise or "")
    if noise and noise not in NOISE:
        raise ValueError(f"boot_noise is False, True, 'garbage' or 'rom', not {boot_noise!r}")
    if not isinstance(vendor_banner, str) or any(not " " <= ch <= "~" for ch in vendor_banner):
        raise ValueError(f"vendor_banner is one line of printable text, not {vendor_banner!r}")
    if boot_outcome not in OUTCOMES:
        raise ValueError(f"boot_outcome is one of {', '.join(OUTCOMES)}, not {boot_outcome!r}")
    if gmr_style not in GMR_STYLES:
        raise ValueError(f"gmr_style is one of {', '.join(GMR_STYLES)}, not {gmr_style!r}")
    return noise


def garbage() -> bytes:
    """The ROM's report as a reader at the wrong rate sees it."""
    return bytes([0x00, 0xE0, 0x8C, 0x7F, 0x12, 0xF0, 0x0F, 0x7C]) + os.urandom(24)


def boot_text(noise: str, vendor_banner: str, outcome: str) -> bytes:
    """Everything the module prints from reset to ``ready`` (or to where it stops)."""
    out = b""
    if noise == "rom":
        out += b"\r\n" + "\r\n".join(ROM_TEXT).encode() + bytes([0x52, 0x6C, 0x20, 0x24, 0x3F, 0x20, 0x52, 0x6C])
    elif noise:
        out += garbage()
    if vendor_banner:
        out += b"\r\n" + vendor_banner.encode() + b"\r\n"
    if outcome == "ready":
        out += b"\r\nready\r\n"
    elif outcome == "invalid":
        out += b"\r\nInvalid\r\n"
    return out
