"""Griffe extension for the API reference: the docstrings' Sphinx roles as Markdown code.

atsock's docstrings name other objects the reStructuredText way (``:mod:`atsock.wire.engine```,
``:class:`~atsock.modem.Modem```); mkdocstrings renders Markdown, where the role would show as
text. Each becomes plain code, the ``~`` form as the last part of the name, as Sphinx shows it.
"""
import re

import griffe

ROLE = re.compile(r":(?:mod|class|func|meth|data|attr|exc|obj):`(~?)([^`]+)`")


def _code(match: "re.Match") -> str:
    short, name = match.groups()
    return f"`{name.rsplit('.', 1)[-1] if short else name}`"


class SphinxRoles(griffe.Extension):
    def on_instance(self, *, obj, **kwargs) -> None:
        if obj.docstring is not None:
            obj.docstring.value = ROLE.sub(_code, obj.docstring.value)
