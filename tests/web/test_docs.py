"""docs/page.md and the README say what the page is: keep them true."""

from __future__ import annotations

import re
from pathlib import Path

from rota.web import router

ROOT = Path(__file__).parent.parent.parent
PAGE_DOC = (ROOT / "docs" / "page.md").read_text(encoding="utf-8")
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_the_doc_lists_every_page_the_app_serves() -> None:
    served = {route.path for route in router.routes}  # type: ignore[attr-defined]
    documented = set(re.findall(r"^\| `(/[^`]*)` \|", PAGE_DOC, flags=re.MULTILINE))
    assert served == documented


def test_every_screenshot_named_in_the_docs_exists() -> None:
    named = re.findall(r"\]\(((?:docs/)?screenshots/[^)]+)\)", PAGE_DOC + README)
    assert "docs/screenshots/jobs-light.png" in named
    assert "docs/screenshots/timeline-light.png" in named
    for name in named:
        path = ROOT / (name if name.startswith("docs/") else f"docs/{name}")
        assert path.is_file(), name
    pages = {"login", "jobs", "schedule-dialog", "activity", "run", "run-failed", "timeline"}
    pages |= {"limiters"}
    for page in pages | {"nodes"}:
        for scheme in ("light", "dark"):
            assert (ROOT / "docs" / "screenshots" / f"{page}-{scheme}.png").is_file()
