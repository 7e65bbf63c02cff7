"""Modem dialects: the only code that knows a module's AT command set.

Each package holds one family: its AT text, the parsing of its answers, its bring-up. They build
on ``atsock`` (the socket core, the engine) and are found by name through the ``atsock.dialects``
entry points declared in ``pyproject.toml``.
"""
