"""docs/options.md is the option table, regenerated: it cannot drift from the code."""

from __future__ import annotations

from pathlib import Path

from sarra.config import reference
from sarra.config.options import OPTIONS

DOC = Path(__file__).resolve().parents[2] / "docs" / "options.md"


def test_docs_option_reference_is_up_to_date() -> None:
    assert DOC.read_text() == reference.render(), (
        "docs/options.md is stale: run python -m sarra.config.reference > docs/options.md"
    )


def test_every_option_appears_in_the_reference() -> None:
    text = reference.render()
    missing = [name for name in OPTIONS if f"| `{name}` |" not in text]
    assert missing == []
