"""The committed lifecycle diagrams are the ones the machines draw today."""
import importlib.util
from pathlib import Path

DOCS = Path(__file__).resolve().parent.parent / "docs"


def test_docs_lifecycle_matches_the_machines():
    spec = importlib.util.spec_from_file_location("lifecycle_diagrams", DOCS / "lifecycle_diagrams.py")
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    committed = (DOCS / "lifecycle.md").read_text()
    assert committed == tool.document(), "run: python docs/lifecycle_diagrams.py > docs/lifecycle.md"
