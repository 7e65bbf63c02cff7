"""The documentation: the AT-semantics pages are what the wire says today, the site builds without
a network and reads well in a browser without one (diagrams drawn, no code cut off), and every
error message that carries a modem error code points to a published page that explains that code."""
import ast
import errno
import html
import importlib.util
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from atsock.errors import DOCS_URL
from atsock.core.lifecycle import SOCKET_OPERATIONS, ModemLifecycle, SocketLifecycle
from modems.esp.codes import JOIN_ERRORS
from modems.quectel import codes as quectel_codes

from .peers import npm_binary

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"


def load_docs_module(name: str):
    """A tool kept in docs/ (not a package: MkDocs and the commands load them by path)."""
    spec = importlib.util.spec_from_file_location(name, DOCS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_at_semantics_pages_are_what_the_wire_says():
    generator = load_docs_module("gen_semantics")
    pages = generator.generate()
    assert set(pages) == {p.name for p in (DOCS / "semantics").glob("*.md")}, "pages added or removed"
    diff = generator.differences(pages)
    assert not diff, ("the wire differs from docs/semantics/ (regenerate with "
                      "`python docs/gen_semantics.py` and read the change):\n" + diff)


def test_every_situation_is_on_every_page():
    generator = load_docs_module("gen_semantics")
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


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The site, built offline once for the tests of this module. The Mermaid script it ships is
    fetched first (with npm, from Debian where the machine has none), as a first build would."""
    for module in ("mkdocs", "mkdocstrings_handlers.python", "material"):
        pytest.importorskip(module, reason="the docs extra is not installed (pip install -e '.[docs]')")
    load_docs_module("mermaid_script").fetch(npm_binary())
    site = tmp_path_factory.mktemp("docs") / "site"
    result = subprocess.run([sys.executable, "-c", OFFLINE_BUILD, str(site)], cwd=ROOT, capture_output=True,
                            text=True, timeout=300, env=dict(os.environ, NO_MKDOCS_2_WARNING="1"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "WARNING" not in result.stderr, result.stderr
    return site


def test_the_site_builds_offline_without_warnings(site):
    text = {page: html.unescape(re.sub(r"<[^>]+>", "", (site / page / "index.html").read_text(encoding="utf-8")))
            for page in ("", "reference/atsock", "reference/modem", "semantics/quectel", "troubleshooting", "emulator",
                         "porting", "getting-started", "benchmarks")}
    assert "open_modem(port, dialect='quectel'" in text["reference/atsock"]   # the API from docstrings
    assert "on_state_change(listener)" in text["reference/modem"]
    assert "listen(backlog=<not given>)" in text["reference/atsock"]      # no private sentinel's name
    assert not [page for page in site.glob("reference/*/index.html") if "UNSET" in page.read_text(encoding="utf-8")]
    assert 'AT+QIOPEN=1,0,"TCP","127.0.0.1",<port>,0,0' in text["semantics/quectel"]  # the generated pages
    assert "Quectel error codes 550–574" in text["troubleshooting"]
    assert "passive_rearm" in text["emulator"]                              # fakemodem/README.md, included
    assert "names looked up when needed" in text["porting"]               # tests/differential.py's list
    assert "pip install -q -e '.[test,docs]'" in text["getting-started"]  # the README's commands
    home = " ".join(text[""].split())  # the home page: what atsock is, then the two commands
    what, commands = home.index("atsock is MicroPython's usocket API"), home.index("examples/http_get.py")
    assert what < commands < home.index("python -m pytest") < home.index("Of the two commands")
    assert "above" not in home[:home.index("Of the two commands") + 200]
    assert "Real hardware covers wiring" in home and not re.search(r"\w\.md\b", home)  # pages by title, not file
    assert (site / "bench-goodput.png").exists() and "bench-goodput.png" in \
        (site / "benchmarks" / "index.html").read_text(encoding="utf-8")


# Run in every page once it has loaded: Material draws each ```mermaid block into a <div class="mermaid">
# (its SVG in a closed shadow root, read through the DevTools protocol); code blocks must fit their
# column, as the longest line of any that does not shows.
WAIT_FOR_DIAGRAMS = """new Promise(resolve => { const start = Date.now(); (function look() {
    const drawn = document.querySelectorAll("div.mermaid").length;
    if (drawn >= %d || Date.now() - start > 20000) resolve(drawn); else setTimeout(look, 50); })(); })"""
OVERFLOWING_CODE = """[...document.querySelectorAll("article pre > code")]
    .filter(code => code.scrollWidth > code.clientWidth + 1)
    .map(code => code.textContent.split("\\n").reduce((a, b) => b.length > a.length ? b : a, ""))"""
# the pages a person looks at in the screenshots the test leaves in its tmp_path
SCREENSHOTS = ("", "lifecycle/", "architecture/", "reference/modem/", "reference/atsock/")


def test_the_site_reads_well_offline_in_a_browser(site, http_server, tmp_path):
    from .browser import Browser
    (http_server.root / "site").symlink_to(site)
    base = f"http://127.0.0.1:{http_server.server_port}/site/"
    pages = sorted(str(index.parent.relative_to(site)) + "/" for index in site.rglob("index.html"))
    pages = [page.removeprefix("./") for page in pages]
    drawn, overflowing = {}, {}
    with Browser(tmp_path) as browser:
        for page in pages:
            diagrams = (site / page / "index.html").read_text(encoding="utf-8").count('<pre class="mermaid">')
            browser.open(base + page)
            assert browser.evaluate(WAIT_FOR_DIAGRAMS % diagrams) == diagrams, page
            if diagrams:
                drawn[page] = browser.shadow_texts("mermaid")
            overflowing[page] = browser.evaluate(OVERFLOWING_CODE)
            if page in SCREENSHOTS:
                browser.screenshot(tmp_path / f"{page.strip('/').replace('/', '-') or 'home'}.png")
        asked = browser.requests
    assert {page for page in pages if page in SCREENSHOTS} == set(SCREENSHOTS)
    assert not [url for url in asked if not url.startswith((base, "data:"))], "the pages reached off this machine"
    assert any(url.endswith("assets/javascripts/mermaid.min.js") for url in asked)
    assert {page: lines for page, lines in overflowing.items() if lines} == {}, "code wider than its column"
    assert set(drawn) >= {"lifecycle/", "architecture/"}
    for page, diagrams in drawn.items():
        for has_svg, text in diagrams:
            assert has_svg and text and "Syntax error" not in text, (page, text)
    for (_, text), lifecycle in zip(drawn["lifecycle/"], (ModemLifecycle(), SocketLifecycle()), strict=True):
        machine = lifecycle.machine
        assert {machine.get_state(state).value.value for state in machine.states} <= set(text.split()), text
        assert set(machine.events) - set(text.split()) <= {op.value for op in SOCKET_OPERATIONS}, text


def test_the_docs_have_one_address():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert project["project"]["urls"]["Documentation"] == DOCS_URL
    assert f"\nsite_url: {DOCS_URL}\n" in (ROOT / "mkdocs.yml").read_text(encoding="utf-8")


def docs_links_in_messages():
    """(file, page, anchor) of every docs_link() call in the code users run, and the strings in it
    that name a page of docs/ by its repository path (none may: they mean nothing to a user)."""
    links, paths = [], []
    for path in sorted([*(ROOT / "atsock").rglob("*.py"), *(ROOT / "modems").rglob("*.py")]):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                      if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
                      and node.body and isinstance(node.body[0], ast.Expr)}
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "docs_link":
                assert all(isinstance(arg, ast.Constant) for arg in node.args) and not node.keywords, \
                    f"{path}:{node.lineno}: give docs_link its page and anchor as literals"
                links.append((path.relative_to(ROOT), *[arg.value for arg in node.args]))
            elif isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings \
                    and re.search(r"docs/[\w/-]+\.md", node.value):
                paths.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    return links, paths


def test_messages_point_at_pages_and_anchors_of_the_published_site(site):
    links, paths = docs_links_in_messages()
    assert not paths, "messages that name a repository path instead of docs_link()"
    assert {page for _, page, *_ in links} >= {"troubleshooting", "hardware"}
    for where, page, *anchor in links:
        built = site / page / "index.html"
        assert built.exists(), (where, page)
        if anchor:
            assert f'id="{anchor[0]}"' in built.read_text(encoding="utf-8"), (where, page, anchor[0])


def page_table(text: str, first: str):
    """The rows of the Markdown table in ``text`` whose first cell matches ``first``, as cell lists."""
    rows = [[cell.strip() for cell in line.strip().strip("|").split("|")] for line in text.splitlines()
            if line.startswith("|")]
    return {row[0]: row for row in rows if re.fullmatch(first, row[0])}


def test_quectel_error_messages_point_to_the_table_that_explains_every_code():
    page = (DOCS / "troubleshooting.md").read_text(encoding="utf-8")
    anchor = quectel_codes.DOCS.partition("#")[2]
    assert f"{{#{anchor}}}" in page and quectel_codes.DOCS.startswith(f"see {DOCS_URL}troubleshooting/#")
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
