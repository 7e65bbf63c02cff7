"""Run MicroPython network code unmodified: its module names resolve to atsock.

``install()`` registers ``usocket``, ``uselect``, ``ussl`` and ``tls`` (plus the ``u``-names of
standard modules that CPython has under the plain name, such as ``ustruct`` and ``ubinascii``) in
``sys.modules``. With ``standard_names=True`` it also makes ``import socket``, ``import select``
and ``import ssl`` give atsock — for a process that runs nothing but MicroPython code, since it
hides the standard modules from every later import. ``load(path)`` is the scoped alternative: it
runs one MicroPython source file as a module in which ``socket``/``select``/``ssl`` (and the
``u``-names) are atsock, leaving the rest of the process alone.
"""
import builtins
import importlib
import importlib.util
import sys
import types
from pathlib import Path

from . import select, tls

# MicroPython's u-modules whose CPython namesakes do the same job.
_STANDARD_ALIASES = {
    "ustruct": "struct", "ubinascii": "binascii", "uerrno": "errno", "uio": "io", "ujson": "json",
    "ure": "re", "uhashlib": "hashlib", "ucollections": "collections", "uzlib": "zlib",
}


def _atsock_names(standard_names: bool):
    atsock = sys.modules[__package__]  # this module's own package, imported before it
    names = {"usocket": atsock, "uselect": select, "ussl": tls, "tls": tls}
    if standard_names:
        names.update({"socket": atsock, "select": select, "ssl": tls})
    return names


def install(standard_names: bool = False) -> None:
    for alias, real in _STANDARD_ALIASES.items():
        if alias not in sys.modules:
            sys.modules[alias] = importlib.import_module(real)
    sys.modules.update(_atsock_names(standard_names))


def load(path, name: str = None, standard_names: bool = True) -> types.ModuleType:
    """Execute the MicroPython module at ``path`` with atsock behind its socket imports."""
    path = Path(path)
    overrides = _atsock_names(standard_names)
    for alias, real in _STANDARD_ALIASES.items():
        overrides.setdefault(alias, importlib.import_module(real))

    def scoped_import(module_name, globals=None, locals=None, fromlist=(), level=0):
        if level == 0 and module_name in overrides:
            return overrides[module_name]
        return builtins.__import__(module_name, globals, locals, fromlist, level)

    module_builtins = dict(vars(builtins), __import__=scoped_import)
    spec = importlib.util.spec_from_file_location(name or path.stem, path)
    module = importlib.util.module_from_spec(spec)
    module.__builtins__ = module_builtins
    code = compile(path.read_bytes(), str(path), "exec")
    exec(code, module.__dict__)
    return module
