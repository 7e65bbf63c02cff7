"""Griffe extension for the API reference: a parameter whose default is atsock's ``UNSET`` (an
argument not given, where CPython refuses None) shows as that sentinel's repr, as ``help()`` shows
it, not as the name of a private module's sentinel: ``listen(backlog=<not given>)``.
"""
import griffe

from atsock.surface.checked import UNSET


class UnsetDefaults(griffe.Extension):
    def on_function_instance(self, *, func, **kwargs) -> None:
        for parameter in func.parameters:
            if str(parameter.default) == "UNSET":
                parameter.default = repr(UNSET)
