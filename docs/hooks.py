"""MkDocs hook: pages that show text kept elsewhere in the repository, so that it is written once.

A page asks for it with an HTML comment on a line of its own:

``<!-- readme: commands -->``      the README's opening code block (the set-up-and-run commands)
``<!-- readme: intro -->``         the README from its title to its first section, the commands after
                                   its first paragraph (what atsock is)
``<!-- readme: SECTION -->``       the body of the README section titled ``## SECTION``
``<!-- include: PATH -->``         a whole file of the repository (``fakemodem/README.md``)
``<!-- differences -->``           the documented differences from CPython, read from
                                   ``tests/differential.py`` (parsed, not imported: it needs the
                                   test tools)

Links in the included text that point into the repository are rewritten to the site's pages; a
link that shows a file's name (``[docs/hardware.md](docs/hardware.md)``) shows the page's title.
"""
import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DIRECTIVE = re.compile(r"^<!-- (readme|include): (.+?) -->$|^<!-- (differences) -->$", re.MULTILINE)
# repository paths -> where the site has them (pages at the top of docs/)
LINKS = {"fakemodem/README.md": "emulator.md", "docs/": ""}
# README sections the site shows on docs/guide.md: links to them from other pages go there
GUIDE_SECTIONS = ("ordinary-python-libraries-in-process", "tls", "asyncio", "line-rate-and-flow-control", "data-mode",
                  "the-modules-own-tls", "cmux")


def _site_links(text: str, titles: dict) -> str:
    for path, page in LINKS.items():
        text = text.replace(f"]({path}", f"]({page}")
    for anchor in GUIDE_SECTIONS:
        text = text.replace(f"](#{anchor})", f"](guide.md#{anchor})")
    return FILE_NAMED_LINK.sub(lambda m: f"[{titles.get(m[2], m[1])}]({m[2]}{m[3] or ''})", text)


FILE_NAMED_LINK = re.compile(r"\[([\w/.-]+\.md)\]\(([\w/.-]+\.md)(#[\w-]+)?\)")


def nav_titles(nav) -> dict:
    """{page: its title} from mkdocs.yml's nav."""
    titles = {}
    for item in nav or []:
        for title, target in (item.items() if isinstance(item, dict) else ()):
            titles.update({target: title} if isinstance(target, str) else nav_titles(target))
    return titles


def readme_commands(lines) -> str:
    """The fenced block the README opens with (``.ci/run`` reads the test command from it too)."""
    start = next(i for i, line in enumerate(lines) if line.startswith("```"))
    end = next(i for i in range(start + 1, len(lines)) if lines[i].startswith("```"))
    return "\n".join(lines[start:end + 1])


def readme_part(name: str) -> str:
    lines = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    if name == "commands":
        return readme_commands(lines)
    start = lines.index("# atsock" if name == "intro" else f"## {name}") + 1
    end = next((i for i in range(start, len(lines)) if lines[i].startswith("## ")), len(lines))
    text = "\n".join(lines[start:end]).strip()
    if name == "intro":  # what atsock is, then the two commands, then what they do
        first, _, rest = text.partition("\n\n")
        text = f"{first}\n\n{readme_commands(lines)}\n\n{rest}"
    return text


def _strings(call: ast.Call):
    return [arg.value for arg in call.args if isinstance(arg, ast.Constant) and isinstance(arg.value, str)]


def differences_table() -> str:
    """STAND_INS and DIFFERENCES of the differential test as a table (name, why)."""
    tree = ast.parse((ROOT / "tests" / "differential.py").read_text(encoding="utf-8"))
    rows = []
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.List) \
                and any(getattr(t, "id", None) in ("STAND_INS", "DIFFERENCES") for t in node.targets):
            kind = "stand-in" if node.targets[0].id == "STAND_INS" else "difference"
            for call in node.value.elts:
                name, why = _strings(call)[:2]
                rows.append(f"| {name} | {kind} | {why} |")
    if not rows:
        raise ValueError("tests/differential.py has no STAND_INS or DIFFERENCES list any more")
    return "| what | kind | why |\n|---|---|---|\n" + "\n".join(rows)


def expand(markdown: str, titles: dict) -> str:
    def replace(match):
        kind, argument, differences = match.groups()
        if differences:
            return differences_table()
        if kind == "readme":
            return _site_links(readme_part(argument), titles)
        return _site_links((ROOT / argument).read_text(encoding="utf-8"), titles)
    return DIRECTIVE.sub(replace, markdown)


def on_page_markdown(markdown, page, config, files):  # the MkDocs hook
    return expand(markdown, nav_titles(config["nav"]))
