"""The socket core (internal): the life of every connection on one modem.

Connections and the module's ids, the lifecycle machines, what each socket received and sends,
fetching the module's data, readiness, data mode, recovery, and the contract a dialect fulfils
(:mod:`.dialect`). Stands on :mod:`atsock.wire`; the public faces stand on it
(``tests/test_layers.py``). Not a public API, except :mod:`.dialect` for dialect packages.
"""
__all__ = []
