"""MaixPy's ``fm`` (the FPIOA pin multiplexer), inert: atsock's UART is a host serial port, wired already.

``fm.register(pin, function)`` and ``fm.fpioa`` exist so that a program's pin set-up lines run.
"""


class _Fpioa:
    """Function numbers a program passes to ``fm.register``; their values mean nothing here."""

    def __getattr__(self, name: str) -> str:
        if name.startswith("_"):
            raise AttributeError(name)
        return name


fpioa = _Fpioa()


def register(pin, function, force: bool = True) -> None:
    """Nothing to route: the modem's serial line is the port given to atsock."""


def unregister(pin, function=None) -> None:
    """Nothing was routed."""
