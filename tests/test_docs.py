"""The documentation: the AT-semantics pages are what the wire says today, the site builds without
a network, and every error message that carries a modem error code points to a page that explains
that code."""
import errno
import html
import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from modems.esp.codes import JOIN_ERRORS
from modems.quectel import codes as quectel_codes

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"


def load_generator():
    spec = importlib.util.spec_from_file_location("gen_semantics", DOCS / "gen_semantics.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_at_semantics_pages_are_what_the_wire_says():
    generator = load_generator()
    pages = generator.generate()
    assert set(pages) == {p.name for p in (DOCS / "semantics").glob("*.md")}, "pages added or removed"
    diff = generator.differences(pages)
    assert not diff, ("the wire differs from docs/semantics/ (regenerate with "
                      "`python docs/gen_semantics.py` and read the change):\n" + diff)


def test_every_situation_is_on_every_page():
    generator = load_generator()
    for variant in generator.VARIANTS:
        page = (DOCS / "semantics" / f"{variant.key}.md").read_text(encoding="utf-8")
        for situation in generator.SITUATIONS:
            assert f"{{#{situation.key}}}" in page, (variant.key, situation.key)


# The build runs in a child process whose sockets cannot connect or resolve anything: a theme,
# plugin or extension that wanted the network fails the build.
OFFLINE_BUILD = """
import socket, sys

def refuse(*args, **kwargs):
    raise OSError("network access while building the docs")

socket.socket.connect = socket.socket.connect_ex = refuse
socket.create_connection = socket.getaddrinfo = refuse
from mkdocs.__main__ import cli
cli(["build", "--strict", "--site-dir", sys.argv[1]])
"""


def test_the_site_builds_offline_without_warnings(tmp_path):
    for module in ("mkdocs", "mkdocstrings_handlers.python", "material"):
        pytest.importorskip(module, reason="the docs extra is not installed (pip install -e '.[docs]')")
    site = tmp_path / "site"
    result = subprocess.run([sys.executable, "-c", OFFLINE_BUILD, str(site)], cwd=ROOT, capture_output=True,
                            text=True, timeout=300, env=dict(os.environ, NO_MKDOCS_2_WARNING="1"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "WARNING" not in result.stderr, result.stderr
    text = {page: html.unescape(re.sub(r"<[^>]+>", "", (site / page / "index.html").read_text(encoding="utf-8")))
            for page in ("", "reference/atsock", "reference/modem", "semantics/quectel", "troubleshooting", "emulator",
                         "porting", "getting-started", "benchmarks")}
    assert "open_modem(port, dialect='quectel'" in text["reference/atsock"]   # the API from docstrings
    assert "on_state_change(listener)" in text["reference/modem"]
    assert 'AT+QIOPEN=1,0,"TCP","127.0.0.1",<port>,0,0' in text["semantics/quectel"]  # the generated pages
    assert "Quectel error codes 550–574" in text["troubleshooting"]
    assert "passive_rearm" in text["emulator"]                              # fakemodem/README.md, included
    assert "names looked up when needed" in text["porting"]               # tests/differential.py's list
    assert "pip install -q -e '.[test,docs]'" in text["getting-started"]  # the README's commands
    home = " ".join(text[""].split())  # the home page: what atsock is, then the two commands
    what, commands = home.index("atsock is MicroPython's usocket API"), home.index("examples/http_get.py")
    assert what < commands < home.index("python -m pytest") < home.index("Of the two commands")
    assert "above" not in home[:home.index("Of the two commands") + 200]
    assert (site / "bench-goodput.png").exists() and "bench-goodput.png" in \
        (site / "benchmarks" / "index.html").read_text(encoding="utf-8")


def page_table(text: str, first: str):
    """The rows of the Markdown table in ``text`` whose first cell matches ``first``, as cell lists."""
    rows = [[cell.strip() for cell in line.strip().strip("|").split("|")] for line in text.splitlines()
            if line.startswith("|")]
    return {row[0]: row for row in rows if re.fullmatch(first, row[0])}


def test_quectel_error_messages_point_to_the_table_that_explains_every_code():
    page = (DOCS / "troubleshooting.md").read_text(encoding="utf-8")
    anchor = quectel_codes.DOCS.partition("#")[2]
    assert f"{{#{anchor}}}" in page and quectel_codes.DOCS.startswith("see docs/troubleshooting.md#")
    table = page_table(page, r"5[5-7]\d")
    assert set(table) == {str(code) for code in quectel_codes.TEXT}
    for code, text in quectel_codes.TEXT.items():
        error = quectel_codes.quectel_error(code)
        assert quectel_codes.DOCS in str(error) and str(code) in str(error)
        assert table[str(code)][1] == text and getattr(errno, table[str(code)][2]) == quectel_codes.ERRNO[code], code


def test_wifi_join_codes_are_explained_where_the_message_points():
    page = (DOCS / "troubleshooting.md").read_text(encoding="utf-8")
    assert "{#esp-join-codes}" in page
    table = page_table(page, r"\d")
    assert set(table) == {str(code) for code in JOIN_ERRORS}
    for code, (number, text, _) in JOIN_ERRORS.items():
        assert table[str(code)][1] == text and getattr(errno, table[str(code)][2]) == number, code
