"""The committed lifecycle diagrams are the ones the machines draw today."""
from pathlib import Path

from atsock.diagrams import document


def test_docs_lifecycle_matches_the_machines():
    committed = (Path(__file__).resolve().parent.parent / "docs" / "lifecycle.md").read_text()
    assert committed == document(), "run: python -m atsock.diagrams > docs/lifecycle.md"
