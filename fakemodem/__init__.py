"""fakemodem: an emulated cellular/Wi-Fi module on a pty, bridging its AT sockets to host sockets.

    from fakemodem import FakeModem
    with FakeModem("quectel", hosts={"example.org": "127.0.0.1"}) as fm:
        ...  # open fm.port with any serial library

It is an independent oracle for the atsock driver: written from the modem manuals' wire facts
(``shared/at-reference/``), it imports nothing from ``atsock`` or ``modems``.
"""
from .runtime import FakeModem

__all__ = ["FakeModem"]
