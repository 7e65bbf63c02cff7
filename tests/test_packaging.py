"""What a user installs: every package of the tree that atsock needs is in the distribution, nothing
else is, the version has one source, and CI reads the README's own test command. (``.ci/wheel-check``
builds the real wheel and runs it from a fresh virtual environment.)"""
import re
import subprocess
import sys
from pathlib import Path

import setuptools

import atsock

from .cli_support import run_atsock

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = (ROOT / "pyproject.toml").read_text(encoding="utf-8")


def _include_patterns():
    section = PYPROJECT[PYPROJECT.index("[tool.setuptools.packages.find]"):]
    return re.findall(r'"([^"]+)"', re.search(r"include = \[(.*?)\]", section, re.S).group(1))


def test_every_package_users_import_is_found_and_nothing_else():
    found = set(setuptools.find_packages(str(ROOT), include=_include_patterns()))
    on_disk = {str(p.parent.relative_to(ROOT)).replace("/", ".") for top in ("atsock", "modems", "fakemodem")
               for p in (ROOT / top).rglob("__init__.py")}
    assert on_disk <= found and "atsock.asyncio" in found
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
