"""What a user installs: every package of the tree that atsock needs is in the distribution, nothing
else is, the version has one source, and CI reads the README's own test command. (``.ci/wheel-check``
builds the real wheel and runs it from a fresh virtual environment.)"""
import fnmatch
import re
import subprocess
from pathlib import Path

import atsock

from .cli_support import run_atsock

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = (ROOT / "pyproject.toml").read_text(encoding="utf-8")


def _include_patterns():
    section = PYPROJECT[PYPROJECT.index("[tool.setuptools.packages.find]"):]
    return re.findall(r'"([^"]+)"', re.search(r"include = \[(.*?)\]", section, re.S).group(1))


def test_every_package_users_import_is_found_and_nothing_else():
    """setuptools' ``packages.find``: every directory with an ``__init__.py`` whose dotted name
    matches an include pattern (read without setuptools, which a Python 3.12 venv lacks)."""
    packages = {".".join(p.parent.relative_to(ROOT).parts) for p in ROOT.glob("*/**/__init__.py")
                if not p.relative_to(ROOT).parts[0].startswith(".")}
    found = {name for name in packages if any(fnmatch.fnmatchcase(name, pattern) for pattern in _include_patterns())}
    needed = {name for name in packages if name.split(".")[0] in ("atsock", "modems", "fakemodem")}
    assert found == needed and "atsock.asyncio" in found and "modems.esp" in found
    assert not {name for name in found if name.split(".")[0] in ("tests", "bench", "docs", "examples")}
    assert (ROOT / "atsock" / "py.typed").exists() and (ROOT / "LICENSE").read_text().startswith("MIT License")


def test_one_version_everywhere():
    assert 'dynamic = ["version"]' in PYPROJECT and 'attr = "atsock.__version__"' in PYPROJECT
    assert re.fullmatch(r"\d+\.\d+\.\d+", atsock.__version__)
    done = run_atsock("--version")
    assert done.returncode == 0 and done.stdout.strip() == f"atsock {atsock.__version__}"


def test_ci_runs_the_test_command_of_the_readme():
    readme = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    assert readme[0] == "```sh" and readme[3] == "```"  # the two commands open the README, as a code block
    assert "examples/http_get.py" in readme[1] and "pytest" in readme[2]
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    extract = next(line for line in ci.splitlines() if line.startswith("test_command="))
    done = subprocess.run(["bash", "-c", f'{extract}; printf %s "$test_command"'], cwd=ROOT, capture_output=True,
                          text=True, check=True)
    assert done.stdout == readme[2]
    assert "bash .ci/wheel-check" in ci


def test_the_quick_subset_names_test_modules_that_exist():
    from .conftest import QUICK_MODULES

    assert QUICK_MODULES and all((ROOT / "tests" / name).is_file() for name in QUICK_MODULES)
    assert "quick:" in PYPROJECT  # the marker is registered
