"""Modem dialects: the only code that knows a module's AT command set.

Each dialect is a subclass of :class:`modems.base.Dialect` in a module of its own. ``open_modem``
finds one by name through :func:`get_dialect`.
"""
import importlib

_DIALECTS = {
    "quectel": ("modems.quectel", "QuectelDialect"),
    "esp8285": ("modems.esp", "EspDialect"),
    "esp8266": ("modems.esp", "EspDialect"),
    "esp-at": ("modems.esp", "EspDialect"),
}


def get_dialect(name: str):
    try:
        module_name, class_name = _DIALECTS[name.lower()]
    except KeyError:
        raise ValueError(f"unknown modem dialect {name!r}; known: {', '.join(sorted(_DIALECTS))}") from None
    return getattr(importlib.import_module(module_name), class_name)


def dialect_names():
    return sorted(_DIALECTS)
