"""Dialects by name: the registry that lets ``open_modem(dialect=...)`` find one.

atsock's core does not import any dialect. Dialect packages announce themselves through the
``atsock.dialects`` entry point group (``modems`` does so in ``pyproject.toml``), or a program
registers its own class with :func:`register` before opening a modem.
"""
from typing import Dict, List, Type

_registered: Dict[str, Type] = {}
_GROUP = "atsock.dialects"


def register(name: str, dialect_class: Type) -> None:
    _registered[name.lower()] = dialect_class


def _entry_points():
    from importlib import metadata  # (when a dialect is looked up, not at ``import atsock``: it costs milliseconds)
    return list(metadata.entry_points(group=_GROUP))


def get(name: str) -> Type:
    key = name.lower()
    if key not in _registered:
        for entry in _entry_points():
            if entry.name.lower() == key:
                register(key, entry.load())
                break
    try:
        return _registered[key]
    except KeyError:
        raise ValueError(f"unknown modem dialect {name!r}; known: {', '.join(names())}") from None


def names() -> List[str]:
    return sorted(set(_registered) | {entry.name.lower() for entry in _entry_points()})
