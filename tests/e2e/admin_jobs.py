"""Functions that tests/e2e/test_admin_processes.py adds as run-time jobs by import path
(``tests.e2e.admin_jobs:record``): the app process imports them, having no code for them."""

from __future__ import annotations

import json
import os
from pathlib import Path

from rota import RunContext


def record(ctx: RunContext, marks: str, tag: str) -> None:
    """Leave a mark ``added-ID.json`` naming the tag and the process that ran it."""
    part = Path(marks) / f".added-{ctx.run.id}.part"
    part.write_text(json.dumps({"tag": tag, "pid": os.getpid(), "job": ctx.run.job}))
    part.rename(Path(marks) / f"added-{ctx.run.id}.json")
