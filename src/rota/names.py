"""Job names: short, URL-safe, readable in a log line."""

from __future__ import annotations

import re

__all__ = ["JOB_NAME_RULE", "job_name_problem"]

_JOB_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")
JOB_NAME_RULE = "1-100 letters, digits, '-', '_' or '.', starting with a letter or digit"


def job_name_problem(name: object) -> str | None:
    """Why `name` cannot be a job name, or None when it can."""
    if not isinstance(name, str):
        return f"{name!r} is not text"
    if _JOB_NAME.fullmatch(name) is None:
        shown = name if len(name) <= 40 else name[:40] + "…"
        return f"{shown!r} is not a job name ({JOB_NAME_RULE})"
    return None
