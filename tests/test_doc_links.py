"""The user guide's pages link to files that exist and to headings those files have."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
PAGES = ["docs/guide.md", "docs/deployment.md", "docs/service.md", "README.md"]


def anchor(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    text = re.sub(r"```.*?```", "", path.read_text(encoding="utf-8"), flags=re.DOTALL)
    return {anchor(h) for h in re.findall(r"^#+ (.+)$", text, flags=re.MULTILINE)}


@pytest.mark.parametrize("page", PAGES)
def test_links_resolve(page: str) -> None:
    source = ROOT / page
    text = re.sub(r"```.*?```", "", source.read_text(encoding="utf-8"), flags=re.DOTALL)
    links = re.findall(r"\]\(([^)\s]+)\)", text)
    assert links
    for link in links:
        if re.match(r"[a-z]+:", link):
            continue  # http:, https:, mailto:
        target, _, fragment = link.partition("#")
        path = (source.parent / target).resolve() if target else source
        assert path.exists(), f"{page}: {link}"
        if fragment:
            assert fragment in anchors(path), f"{page}: {link}"


def test_anchor_matches_githubs_rule() -> None:
    assert anchor("Browser login: a session cookie and a CSRF token") == (
        "browser-login-a-session-cookie-and-a-csrf-token"
    )
    assert anchor("Behind a reverse proxy, under a sub-path") == (
        "behind-a-reverse-proxy-under-a-sub-path"
    )
