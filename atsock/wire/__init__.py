"""The wire (internal): bytes on a serial port to typed events, one AT command at a time.

The transport and the loop thread it runs on, the sans-I/O channel and framing, the one checked
command builder (:mod:`.atcmd`), the engine and raw AT. Nothing here knows a socket: the floors
above (:mod:`atsock.core`, then the public faces) use it, never the other way round
(``tests/test_layers.py``). Not a public API: modules move without notice; dialect packages
(``modems/``) use :mod:`.atcmd`, :mod:`.channel`, :mod:`.framing` and :mod:`.fields`.
"""
__all__ = []
