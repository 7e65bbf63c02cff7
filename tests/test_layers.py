"""The tree is the architecture: atsock's floors are folders, and none imports a floor above it.

Bottom up: :mod:`atsock.wire` (bytes to events, one command at a time), :mod:`atsock.core` (the
life of every connection, the dialect contract), then the public faces at the top of ``atsock/``
with :mod:`atsock.surface`, what they share. ``atsock.errors`` and ``atsock.constants`` are the
vocabulary every floor speaks: they import nothing of atsock. ``docs/architecture.md`` draws it.
"""
import ast

import pytest

from .test_structure import ROOT, graph

FLOORS = ("wire", "core")  # bottom up; whatever else is in atsock/ is above them
VOCABULARY = {"atsock.errors", "atsock.constants"}
# what may stand at the top of atsock/: the package's public faces and its vocabulary
TOP = {"atsock", "atsock.__main__", "atsock.errors", "atsock.constants", "atsock.modem", "atsock.registry",
       "atsock.select", "atsock.ssl", "atsock.network", "atsock.quecpython", "atsock.metrics"}
TOP_PACKAGES = {"wire", "core", "surface", "asyncio", "tls", "standard", "micropython", "platforms", "cli"}


def floor_of(module: str) -> int:
    """0 the vocabulary, 1 + its index for a floor's folder, above them all for the rest."""
    if module in VOCABULARY:
        return 0
    parts = module.split(".")
    if len(parts) > 1 and parts[1] in FLOORS:
        return 1 + FLOORS.index(parts[1])
    return 1 + len(FLOORS)


def test_no_floor_imports_one_above_it():
    upward = sorted(f"{a} -> {b}" for a, targets in graph().items() if a.startswith("atsock")
                    for b in targets if b.startswith("atsock") and floor_of(b) > floor_of(a))
    assert upward == []


def test_the_vocabulary_imports_nothing_of_atsock():
    edges = graph()
    assert {name: edges[name] for name in VOCABULARY if edges[name]} == {}


def test_the_top_of_the_tree_is_the_public_faces_and_the_floors():
    modules = {name for name in graph() if name.startswith("atsock") and name.count(".") <= 1}
    packages = {path.name for path in (ROOT / "atsock").iterdir() if (path / "__init__.py").exists()}
    assert packages == TOP_PACKAGES, "a new folder is a layer or a face: place it here and in docs/architecture.md"
    top = {name for name in modules if name.count(".") == 0 or name.split(".")[1] not in packages}
    assert top == TOP, "a module at the top of atsock/ is public: an internal one goes into its floor's folder"


@pytest.mark.parametrize("folder", FLOORS + ("surface",))
def test_internal_folders_say_so(folder):
    """As h11 does: what users may import is obvious, and everything else can move."""
    tree = ast.parse((ROOT / "atsock" / folder / "__init__.py").read_text())
    assigned = {target.id: node.value for node in tree.body if isinstance(node, ast.Assign)
                for target in node.targets if isinstance(target, ast.Name)}
    assert "internal" in ast.get_docstring(tree).splitlines()[0].lower()
    assert isinstance(assigned.get("__all__"), ast.List) and assigned["__all__"].elts == []


def test_every_floor_module_is_in_the_architecture_page():
    page = (ROOT / "docs" / "architecture.md").read_text()
    missing = sorted(name for name in graph() if name.startswith("atsock") and 1 <= floor_of(name) <= len(FLOORS)
                     and name.count(".") == 2 and f"{name.split('.')[-1]}.py" not in page
                     and f"{name.split('.')[-1]}/" not in page)
    assert missing == []
