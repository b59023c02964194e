"""Module-level prerequisites, importable by path (a job added at run time names them so)."""

from __future__ import annotations

KEYS: dict[str, str] = {}


def tmdb_key_set() -> bool | str:
    """Met when a TMDb key is configured."""
    return True if KEYS.get("tmdb") else "no TMDb key configured"


def enrich() -> None:
    """A job for the run-time job test: does nothing."""
