"""Emulated module dialects by name."""

NAMES = ("quectel", "esp8285")
_ALIASES = {"esp8266": "esp8285", "esp-at": "esp8285", "espat": "esp8285"}


def get(name: str):
    name = _ALIASES.get(name.lower(), name.lower())
    if name == "quectel":
        from .quectel import QuectelModule
        return QuectelModule
    if name == "esp8285":
        from .esp import EspModule
        return EspModule
    raise ValueError(f"fakemodem has no dialect {name!r} (known: {', '.join(NAMES)})")
