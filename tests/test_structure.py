"""The layering holds: no import circles, the emulator independent, one checked AT command builder."""
import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

from atsock.wire import atcmd
from atsock.wire.engine import Engine

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("atsock", "modems", "fakemodem")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path, modules):
    """Every project module ``path`` imports, at any depth of the file (function-level too);
    ``from pkg import sub`` depends on ``pkg.sub`` when that is a module, else on ``pkg``."""
    tree = ast.parse(path.read_text())
    package = module_name(path) if path.name == "__init__.py" else module_name(path).rpartition(".")[0]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                found.add(sub if sub in modules else target)
    return {name for name in found if name.split(".")[0] in PACKAGES}


def graph():
    modules = {module_name(p): p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py")}
    edges = {}
    for name, path in modules.items():
        edges[name] = {target for target in imports_of(path, modules) if target in modules and target != name}
    return edges


def find_cycle(edges):
    state, stack = {}, []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for target in sorted(edges.get(node, ())):
            if state.get(target) == "open":
                return stack[stack.index(target):] + [target]
            if target not in state:
                cycle = visit(target)
                if cycle:
                    return cycle
        stack.pop()
        state[node] = "done"
        return None

    for node in sorted(edges):
        if node not in state:
            cycle = visit(node)
            if cycle:
                return cycle
    return None


def package_of(module: str) -> str:
    return module.split(".")[0]


def test_no_module_import_circles():
    assert find_cycle(graph()) is None


def test_packages_depend_one_way():
    edges = graph()
    crossing = {(package_of(a), package_of(b)) for a, targets in edges.items() for b in targets
                if package_of(a) != package_of(b)}
    assert ("atsock", "modems") not in crossing, "atsock must find dialects through its registry"
    assert not {pair for pair in crossing if "fakemodem" in pair}, "the emulator is an independent oracle"


def test_the_engine_writes_only_checked_command_lines():
    engine = Engine.__new__(Engine)
    with pytest.raises(TypeError):
        engine.command("AT+QIOPEN=1,0", timeout=1).send(None)


# every place in the driver that builds a command: each must use atsock.wire.atcmd
_HAND_MADE = re.compile(r"""f["']AT[+&]?[A-Z][A-Z0-9_]*[=?]|["']AT\+[A-Z]+=["']?\s*\+""")


def test_no_command_text_is_assembled_by_hand():
    offenders = []
    for pkg in ("atsock", "modems"):
        for path in (ROOT / pkg).rglob("*.py"):
            if path.name == "atcmd.py":
                continue
            for number, line in enumerate(path.read_text().splitlines(), 1):
                if _HAND_MADE.search(line):
                    offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert offenders == []


@pytest.mark.parametrize("value", [70000, -1, 2 ** 70, 1.0, "80", None, True])
def test_numbers_are_plain_and_in_range(value):
    with pytest.raises((TypeError, OverflowError)):
        atcmd.number(value, 0, 65535)


def test_an_int_subclass_cannot_format_itself_into_a_command():
    class Sneaky(int):
        def __format__(self, spec):
            return "80\rAT+GMR\r"

        __str__ = __repr__ = lambda self: "80\rAT+GMR\r"

    assert atcmd.build("AT+QIOPEN", atcmd.number(Sneaky(80), 0, 65535)) == "AT+QIOPEN=80"


@pytest.mark.parametrize("value", ['a"b', "a\rb", "a\nb", "\x00", "caf\u00e9", 5, b"x"])
def test_strings_that_could_end_a_command_are_refused(value):
    with pytest.raises((TypeError, ValueError)):
        atcmd.text(value)


def test_raw_parameters_are_refused():
    with pytest.raises(TypeError):
        atcmd.build("AT+QICLOSE", "0\rAT+QIDEACT=1")
    with pytest.raises(ValueError):
        atcmd.build("AT+QICLOSE\rAT")
    with pytest.raises(ValueError):
        atcmd.raw("AT+CSQ\rAT+QIDEACT=1")


def test_import_atsock_stays_light_and_gives_every_public_name():
    """``import atsock`` brings no asyncio, no engine and no pyserial (they come with the first
    modem or socket); every name of ``__all__`` is there all the same, as the object its module has."""
    program = ("import sys, atsock\n"
               "heavy = sorted(m for m in ('asyncio', 'serial', 'transitions', 'atsock.wire.engine', 'atsock.modem')"
               " if m in sys.modules)\n"
               "listed = sorted(set(atsock.__all__) - set(dir(atsock)))\n"
               "import atsock.modem, atsock.surface.usock, atsock.wire.rawat, atsock.micropython\n"
               "same = all(getattr(atsock, n) is getattr(m, n) for m, names in ((atsock.modem, ('open_modem', 'Modem')),"
               " (atsock.surface.usock, ('socket', 'getaddrinfo')),"
               " (atsock.wire.rawat, ('ATResult', 'ATCommandError')),"
               " (atsock.micropython, ('install',))) for n in names)\n"
               "print(heavy, listed, same, all(hasattr(atsock, n) for n in atsock.__all__))")
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert done.stdout.split() == ["[]", "[]", "True", "True"], done.stderr
