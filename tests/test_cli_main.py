"""The ``atsock`` argument tree: options anywhere, and the completion script and man page made from it."""
import shutil
import subprocess

import pytest

from atsock.cli.main import build_parser

from .cli_support import run_atsock


@pytest.mark.parametrize("argv, port, option", [
    (["info", "PORT", "--json"], "PORT", ("json", True)),
    (["at", "PORT", "--timeout", "3", "AT"], "PORT", ("timeout", 3.0)),
    (["get", "PORT", "http://x/", "--apn", "internet", "-o", "f"], "PORT", ("apn", "internet")),
    (["get", "--timeout", "5", "PORT", "--apn", "a", "http://x/"], "PORT", ("timeout", 5.0)),
    (["socks", "--listen", "1081", "PORT", "--wait", "2"], "PORT", ("wait", 2.0)),
    (["forward", "PORT", "--to", "h:1", "--listen", "2", "--trace"], "PORT", ("trace", True)),
])
def test_options_go_anywhere_among_the_arguments(argv, port, option):
    args = build_parser().parse_args(argv)
    assert args.port == port and getattr(args, option[0]) == option[1]


def test_a_completion_script_for_each_shell_from_the_parser():
    for shell in ("bash", "zsh"):
        done = run_atsock("--print-completion", shell)
        assert done.returncode == 0, done.stderr
        for word in ("info", "socks", "--non-exclusive", "--ip-version", "--watch"):
            assert word in done.stdout, (shell, word)
    bash = run_atsock("--print-completion", "bash").stdout
    assert subprocess.run(["bash", "-n"], input=bash, text=True).returncode == 0  # a script bash can read


def test_a_man_page_from_the_parser(tmp_path):
    done = run_atsock("--print-man")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(".TH ATSOCK \"1\"") and "\\-\\-print\\-completion" in done.stdout
    for command in ("ports", "info", "at", "get", "socks", "forward"):
        assert f"atsock {command}" in done.stdout.replace("\\fR \\fI\\,", " ").replace("\\/\\fR", "")
    if shutil.which("man"):
        page = tmp_path / "atsock.1"
        page.write_text(done.stdout)
        shown = subprocess.run(["man", "-l", str(page)], capture_output=True, text=True, env={"MANWIDTH": "100"})
        assert shown.returncode == 0 and "atsock" in shown.stdout
