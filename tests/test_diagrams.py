"""The committed lifecycle diagrams are the ones the machines draw today, and what a reader follows
in them (a box's edge stands for each state in it) is every change the machines allow, no more."""
import importlib.util
import re
from pathlib import Path

from atsock.core.lifecycle import ModemLifecycle, SocketLifecycle

DOCS = Path(__file__).resolve().parent.parent / "docs"


def load_tool():
    spec = importlib.util.spec_from_file_location("lifecycle_diagrams", DOCS / "lifecycle_diagrams.py")
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    return tool


def test_docs_lifecycle_matches_the_machines():
    committed = (DOCS / "lifecycle.md").read_text()
    assert committed == load_tool().document(), "run: python docs/lifecycle_diagrams.py > docs/lifecycle.md"


def edges_read_back(diagram: str):
    """The state changes a reader takes from a Mermaid state diagram: an edge from a box leaves
    each state in it, an edge to a box enters it at its start (``[*] -->`` inside it)."""
    boxes, start, box = {}, {}, None
    edges = []
    for line in diagram.splitlines():
        line = line.strip()
        if m := re.fullmatch(r'state "[^"]*" as (\w+) \{', line):
            box = m[1]
            boxes[box] = []
        elif line == "}":
            box = None
        elif m := re.fullmatch(r'state "[^"]*" as (\w+)', line):
            if box:
                boxes[box].append(m[1])
        elif m := re.fullmatch(r"\[\*\] --> (\w+)", line):
            if box:
                start[box] = m[1]
        elif m := re.fullmatch(r"(\w+) --> (\w+): (\w+)", line):
            edges.append(m.groups())
    return {(source, trigger, start.get(dest, dest))
            for source_or_box, dest, trigger in edges for source in boxes.get(source_or_box, [source_or_box])}


def test_the_drawn_edges_are_the_machines_changes():
    tool = load_tool()
    diagrams = re.findall(r"```mermaid\n(.*?)```", (DOCS / "lifecycle.md").read_text(), re.S)
    for diagram, lifecycle in zip(diagrams, (ModemLifecycle(), SocketLifecycle()), strict=True):
        drawn = edges_read_back(diagram)
        assert drawn == set(tool.machine_edges(lifecycle.machine))
        assert len(drawn) > len(re.findall(" --> ", diagram))  # the shared exits are drawn once


def test_shared_exits_leave_a_box():
    plan = load_tool().layout(ModemLifecycle().machine, "UP")
    assert plan.group == ["SYNCING", "CONFIGURING", "CHECKING_SIM", "REGISTERING", "ACTIVATING", "ONLINE"]
    assert plan.entry == "SYNCING"
    assert {edge for edge in plan.edges if edge[0] == "UP"} == {
        ("UP", "recover", "RECOVERING"), ("UP", "fail", "FAILED"), ("UP", "shut_down", "CLOSING")}
