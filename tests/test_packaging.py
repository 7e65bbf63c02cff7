"""What a user installs: every package of the tree that atsock needs is in the distribution, nothing
else is, the version has one source, and CI reads the README's own test command. (``.ci/wheel-check``
builds the real wheel and runs it from a fresh virtual environment.)"""
import fnmatch
import re
import subprocess
import sys
from pathlib import Path

import atsock

from .cli_support import run_atsock

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = (ROOT / "pyproject.toml").read_text(encoding="utf-8")


def claimed_minors():
    """The Python versions the classifiers claim, as minor numbers of 3 (11, 12, 13)."""
    return sorted(int(m) for m in re.findall(r'"Programming Language :: Python :: 3\.(\d+)"', PYPROJECT))


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


def test_the_versions_claimed_are_one_range_said_alike_everywhere_and_this_is_one_of_them():
    minors = claimed_minors()
    assert minors == list(range(minors[0], minors[-1] + 1))
    assert f'requires-python = ">=3.{minors[0]}"' in PYPROJECT
    said = ", ".join(f"3.{m}" for m in minors[:-1]) + f" or 3.{minors[-1]}"  # "3.11, 3.12 or 3.13"
    for page in ("README.md", "docs/getting-started.md"):
        assert f"Python 3 ({said})" in (ROOT / page).read_text(encoding="utf-8"), page
    # the suite passing on a Python not claimed is a claim to add (or a version to test, then claim)
    assert sys.version_info[:2] in [(3, m) for m in minors], f"Python {sys.version} is not claimed"


def test_ci_tests_the_newest_claimed_python_or_says_why_not(tmp_path):
    """Where that interpreter is missing, .ci/newest-python skips, saying so, and CI goes on."""
    assert "bash .ci/newest-python" in (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    (tmp_path / "python3").symlink_to(sys.executable)  # the script reads pyproject.toml with python3
    env = {"PATH": f"{tmp_path}:/usr/bin:/bin", "HOME": str(tmp_path), "ATSOCK_NEWEST_PYTHON": str(tmp_path / "none")}
    done = subprocess.run(["bash", str(ROOT / ".ci" / "newest-python")], env=env, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    newest = claimed_minors()[-1]
    if sys.version_info[:2] == (3, newest):
        assert done.stdout == f"python3 is Python 3.{newest}, the newest claimed: the README's command tested it\n"
    else:
        assert done.stdout.startswith(f"skipped: no Python 3.{newest} here (tried {tmp_path / 'none'})")
