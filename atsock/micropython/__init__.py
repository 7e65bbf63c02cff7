"""Run MicroPython network code unmodified: its module names resolve to atsock.

Each platform has its own set of modules; the ``flavour`` picks one (:mod:`atsock.platforms`):

* ``"micropython"``: ``usocket``/``socket`` is atsock, with ``uselect``, ``ussl``/``tls``, ``utime``
  (``ticks_ms``, ``sleep_ms``...), ``uasyncio``/``asyncio`` (:mod:`atsock.asyncio`: CPython's asyncio
  with its streams on the modem) and the ``u``-names of standard modules (``ustruct``, ``ubinascii``...);
* ``"quecpython"``: the same with ``usocket`` from :mod:`atsock.quecpython`, and ``checkNet`` and ``log``;
* ``"maixpy"``: the same with ``network`` (``network.ESP8285(uart)``), ``machine.UART``, ``fm`` and
  ``board_info``, the last three inert stand-ins for the board's pin wiring.

``load(path, flavour=...)`` runs one source file as a program (``__name__ == "__main__"``, so its
``if __name__ == '__main__':`` block runs) that sees those names, leaving the rest of the process
alone; ``load(path, name=...)`` imports it as the module ``name`` instead. MaixPy's boot code leaves
``fm``, ``board_info`` and ``machine`` in a program's globals: the ``maixpy`` flavour does too.
``python -m atsock.micropython FILE [--flavour F] [--port P --dialect D ...]`` runs one from a shell
(:mod:`atsock.micropython.__main__`). ``install(flavour=...)`` registers them in ``sys.modules``; with
``standard_names=True`` it also makes ``import socket``/``select``/``ssl``/``time``/``asyncio`` give
atsock's, for a process that runs nothing but MicroPython code, since it hides the standard modules
from every later import (modules that imported them before keep the host's). A platform module the
flavour does not have fails with an ImportError naming the flavour.
"""
import builtins
import importlib.util
import re
import sys
import types
from pathlib import Path

from .. import platforms, standard

_INDENT = re.compile(rb"^[ \t]+", re.MULTILINE)


def install(standard_names: bool = False, flavour: str = "micropython", port=None) -> None:
    """Make the ``flavour``'s module names (``usocket``, ``uselect``, ``ussl``...) import atsock's, in this
    whole process (a ``ustruct``, ``ujson``... it already has stays). With ``standard_names``,
    ``socket``, ``select``, ``ssl``, ``time`` and ``asyncio`` too, and CPython's whole surface of them
    (:mod:`atsock.standard`), so that ordinary libraries imported afterwards use the modem. ``port``:
    what MaixPy's ``network.ESP8285(uart)`` opens."""
    names = platforms.modules(flavour, standard_names, port)
    if standard_names:
        names.update(standard.modules())  # CPython's full surface, for ordinary libraries
    for alias in platforms.STANDARD_ALIASES:
        if alias in sys.modules:
            del names[alias]  # a program's own module of that name stays
    sys.modules.update(names)


def micropython_source(source: bytes) -> bytes:
    """Indentation as MicroPython's lexer counts it: a tab advances to the next multiple of eight.

    CPython refuses indentation that mixes tabs and spaces ambiguously; MicroPython does not, so
    examples pasted from documentation may. Only leading whitespace is expanded.
    """
    return _INDENT.sub(lambda m: m.group().expandtabs(8), source)


#: what a flavour's boot code leaves in the globals of the program it runs
BOOT_GLOBALS = {"maixpy": ("fm", "board_info", "machine")}


def load(path, name: str = None, standard_names: bool = True, flavour: str = "micropython",
         port=None) -> types.ModuleType:
    """Run the MicroPython program at ``path`` with the ``flavour``'s modules behind its imports: as
    ``__main__``, or with ``name`` as a module of that name. Returns the module it ran in.

    ``port`` is where MaixPy's ``network.ESP8285(uart)`` finds the module (default: the open modem).
    """
    path = Path(path)
    overrides = platforms.modules(flavour, standard_names, port)

    def scoped_import(module_name, globals=None, locals=None, fromlist=(), level=0):
        top = module_name.partition(".")[0]
        if level == 0 and module_name in overrides:
            return overrides[module_name]
        if level == 0 and top in platforms.PLATFORM_ONLY and top not in overrides:
            raise platforms.missing(top, flavour)
        try:
            return builtins.__import__(module_name, globals, locals, fromlist, level)
        except ModuleNotFoundError as exc:
            if level == 0 and exc.name == top:
                raise platforms.missing(top, flavour) from None
            raise

    module_builtins = dict(vars(builtins), __import__=scoped_import)
    spec = importlib.util.spec_from_file_location(name or "__main__", path)
    module = importlib.util.module_from_spec(spec)
    module.__builtins__ = module_builtins
    module.__dict__.update({global_name: overrides[global_name] for global_name in BOOT_GLOBALS.get(flavour, ())})
    code = compile(micropython_source(path.read_bytes()), str(path), "exec")
    exec(code, module.__dict__)
    return module
