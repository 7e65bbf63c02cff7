"""The emulator's import graph, read from its source: no circles, and nothing from the driver.

fakemodem is an independent oracle, so it may not import ``atsock`` or ``modems``; and its own
modules must depend one way (uart/serial side below the module, dialects below the registry,
the runtime on top). Every import statement counts, also those inside functions.
"""
import ast
from pathlib import Path

from .test_structure import find_cycle  # one cycle finder for the whole tree and for the emulator

PACKAGE = "fakemodem"
ROOT = Path(__file__).resolve().parent.parent / PACKAGE
FORBIDDEN = ("atsock", "modems")


def module_name(path: Path) -> str:
    return PACKAGE if path.name == "__init__.py" else f"{PACKAGE}.{path.stem}"


def imports_of(path: Path, modules: set):
    """(absolute names imported, in-package modules imported) by one file."""
    tree = ast.parse(path.read_text(), filename=str(path))
    absolute, internal = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                absolute.add(alias.name)
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0:
                base = node.module or ""
                absolute.add(base)
            else:
                assert node.level == 1, f"{path.name}: imports from above the package"
                base = f"{PACKAGE}.{node.module}" if node.module else PACKAGE
            if base == PACKAGE or base.startswith(PACKAGE + "."):
                for alias in node.names:  # "from . import x" names a module; "from .x import y" does not
                    candidate = f"{base}.{alias.name}"
                    internal.add(candidate if candidate in modules else base)
    return absolute, internal


def graph():
    files = sorted(ROOT.glob("*.py"))
    modules = {module_name(f) for f in files}
    edges, outside = {}, {}
    for f in files:
        absolute, internal = imports_of(f, modules)
        edges[module_name(f)] = internal & modules
        outside[module_name(f)] = absolute
    return edges, outside


def test_the_graph_is_read_from_every_module():
    edges, _ = graph()
    assert {"fakemodem.runtime", "fakemodem.uart", "fakemodem.serial_side", "fakemodem.module",
            "fakemodem.dialects", "fakemodem.quectel", "fakemodem.esp"} <= set(edges)
    assert "fakemodem.serial_side" in edges["fakemodem.runtime"]
    assert "fakemodem.dialects" in edges["fakemodem.runtime"]


def test_fakemodem_has_no_import_circle():
    edges, _ = graph()
    assert find_cycle(edges) is None, " -> ".join(find_cycle(edges))


def test_fakemodem_imports_nothing_from_the_driver():
    _, outside = graph()
    offenders = {module: sorted(name for name in names if name.split(".")[0] in FORBIDDEN)
                 for module, names in outside.items()}
    assert not {m: n for m, n in offenders.items() if n}


def test_the_cycle_finder_finds_circles():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set(), "c": {"a", "b"}}) is None
    assert find_cycle({"a": {"a"}}) == ["a", "a"]


def test_imports_inside_functions_and_relative_modules_are_seen(tmp_path):
    source = tmp_path / "probe.py"
    source.write_text("def f():\n    import atsock.surface.usock\n    from modems import quectel\n"
                      "from . import uart\nfrom .runtime import FakeModem\n")
    absolute, internal = imports_of(source, {"fakemodem.uart", "fakemodem.runtime"})
    assert {"atsock.surface.usock", "modems"} <= absolute
    assert internal == {"fakemodem.uart", "fakemodem.runtime"}
