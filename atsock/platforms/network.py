"""MaixPy's ``network`` module: ``network.ESP8285(uart)`` over the modem atsock opens or has open.

A program hands ESP8285 the ``machine.UART`` wired to the module; here the module's serial line is
the port given to :func:`bound_to` (from ``load(..., port=...)``), or, without one, the ESP modem
already open.
"""
import types

from .. import network as _network
from ..surface.current import current_modem
from .machine import UART


class ESP8285(_network.ESP8285):
    port = None  # set on the class that bound_to() makes

    def __init__(self, uart=None, **settings):
        if uart is not None and not isinstance(uart, UART):  # a port or serial.Serial, as atsock.network takes
            super().__init__(uart, **settings)
        elif self.port is not None:
            super().__init__(self.port, **settings)
        else:
            super().__init__(current_modem(), **settings)


def bound_to(port) -> types.ModuleType:
    """A ``network`` module whose ESP8285 opens ``port`` (or, for None, uses the open modem)."""
    module = types.ModuleType("network", __doc__)
    module.ESP8285 = type("ESP8285", (ESP8285,), {"port": port, "__module__": "network"})
    return module
