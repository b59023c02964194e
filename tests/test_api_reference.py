"""docs/api.md is the public surface as the code has it: every exported name, current."""

from __future__ import annotations

from pathlib import Path

import rota
from rota.reference import reference

API = Path(__file__).parent.parent / "docs" / "api.md"


def test_the_reference_is_current() -> None:
    assert API.read_text() == reference(), "run: python -m rota.reference > docs/api.md"


def test_the_reference_names_every_export() -> None:
    text = API.read_text()
    for name in rota.__all__:
        assert f"## `{name}`" in text, name
