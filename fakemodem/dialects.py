"""Emulated module dialects by name."""


def get(name: str):
    if name.lower() == "quectel":
        from .quectel import QuectelModule
        return QuectelModule
    raise ValueError(f"fakemodem has no dialect {name!r} (known: quectel)")


NAMES = ("quectel",)
