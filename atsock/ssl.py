"""``from atsock import ssl``: the same module as :mod:`atsock.tls` (MicroPython has both names)."""
from .tls import *  # noqa: F401,F403
from .tls import __all__  # noqa: F401
