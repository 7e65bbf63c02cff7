"""Emulated module dialects by name: the one place that maps a name to a module class."""
from .esp import EspModule
from .quectel import QuectelModule

CLASSES = {"quectel": QuectelModule, "esp8285": EspModule}
NAMES = tuple(CLASSES)
_ALIASES = {"esp8266": "esp8285", "esp-at": "esp8285", "espat": "esp8285"}


def get(name: str):
    key = _ALIASES.get(name.lower(), name.lower())
    if key not in CLASSES:
        raise ValueError(f"fakemodem has no dialect {name!r} (known: {', '.join(NAMES)})")
    return CLASSES[key]
