"""The API reference (docs/reference/) documents what it shows: every public class, function,
method and property its pages render has a docstring, and ``open_modem``'s names every setting.

The pages are walked as mkdocstrings walks them (griffe reads the source, as the site does): each
``::: name`` with its ``members`` option, then every public member of the classes it shows.
"""
import dataclasses
import inspect
import re
import textwrap
from pathlib import Path

import pytest

from atsock import modem, registry

griffe = pytest.importorskip("griffe", reason="the docs extra is not installed (pip install -e '.[docs]')")
yaml = pytest.importorskip("yaml", reason="the docs extra is not installed (pip install -e '.[docs]')")

ROOT = Path(__file__).resolve().parent.parent
DIRECTIVE = re.compile(r"^::: (\S+)\n((?:    .*\n)*)", re.MULTILINE)


def directives():
    """(object path, options) of every ``:::`` block of the reference pages."""
    for page in sorted((ROOT / "docs" / "reference").glob("*.md")):
        for path, block in DIRECTIVE.findall(page.read_text(encoding="utf-8")):
            yield path, (yaml.safe_load(textwrap.dedent(block)) or {}).get("options", {})


def shown_members(obj, names, filters):
    """The members a page renders: those its ``members`` option names, else the ones its filters
    keep that are defined here or exported (mkdocstrings leaves out other imported names)."""
    for name, member in obj.members.items():
        if names is not None:
            if name in names:
                yield member
        elif not any(re.search(f[1:], name) for f in filters) and (not member.is_alias or member.is_public):
            yield member


def site_extensions():
    """The griffe extensions mkdocs.yml gives mkdocstrings, so that the docstrings are the site's."""
    line = re.search(r"^ +extensions: \[(.*)\]$", (ROOT / "mkdocs.yml").read_text(encoding="utf-8"), re.M)[1]
    names = [name.strip() for name in line.split(",")]
    return griffe.load_extensions(*[str(ROOT / name) if name.endswith(".py") else name for name in names])


def undocumented():
    loader = griffe.GriffeLoader(search_paths=[str(ROOT)], extensions=site_extensions())
    missing, seen = [], set()

    def visit(obj, names=None, filters=("!^_",), top=True):
        try:
            target = obj.final_target if obj.is_alias else obj
        except griffe.AliasResolutionError:
            return  # a name from outside atsock (``from socket import *``)
        if (target.is_module and not top) or target.path in seen:
            return  # a submodule is not rendered inside its package's page
        seen.add(target.path)
        if (target.is_function or target.is_class or target.is_module or "property" in target.labels) \
                and not (target.docstring and target.docstring.value.strip()):
            missing.append(obj.path if obj.path == target.path else f"{obj.path} ({target.path})")
        if target.is_class or target.is_module:
            for member in shown_members(target, names, filters):
                visit(member, None, filters, False)

    pages = list(directives())
    for package in {path.split(".")[0] for path, _ in pages}:
        loader.load(package)
    for path, options in pages:
        visit(loader.modules_collection[path], options.get("members"), tuple(options.get("filters", ["!^_"])))
    assert len(seen) > 100  # the walk reached the pages' contents
    return missing


def test_everything_the_reference_shows_has_a_docstring():
    assert undocumented() == []


def test_open_modem_names_every_setting_it_takes():
    settings = {name for name, parameter in inspect.signature(modem.open_modem).parameters.items()
                if parameter.kind is parameter.KEYWORD_ONLY}
    for dialect in registry.names():
        dialect_class = registry.get(dialect)
        settings |= {field.name for field in dataclasses.fields(inspect.getmodule(dialect_class).Settings)}
    assert {"apn", "ssid", "timeouts", "escape_guard", "send_max", "progress"} <= settings
    unnamed = sorted(name for name in settings if f"``{name}``" not in modem.open_modem.__doc__)
    assert unnamed == []
