"""How the tables word times that are a moment off: an overdue fire time is "now", and a run
that started a moment after the table's time was taken started "0 s ago", not "in 0 s"; and a
job's chain in `rota jobs show`."""

from __future__ import annotations

import io
import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from rich.console import Console

from rota.cli.show import job_lines, jobs_table, running_table
from tests.cli.conftest import Served, invoke

NOW = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)


def _text(table: Any) -> str:
    shown = Console(width=200, file=io.StringIO())
    with shown.capture() as captured:
        shown.print(table)
    return captured.get()


def _job(served: Served) -> dict[str, Any]:
    shown = invoke("jobs", "show", "nightly", "--json", env={"ROTA_DATABASE_URL": served.url})
    assert shown.exit_code == 0, shown.output
    job: dict[str, Any] = json.loads(shown.stdout)
    return job


def test_an_overdue_job_is_next_now(served: Served) -> None:
    job = {**_job(served), "paused": False}
    late = (NOW - timedelta(seconds=12)).isoformat()
    job.update(next_fire_at=late, next_fire_times=[late])
    row = next(r for r in _text(jobs_table([job], NOW)).splitlines() if "nightly" in r)
    assert re.search(r"daily 03:00\s+now\s", row), row
    assert any(line.endswith("(now)") for line in job_lines(job, NOW)), job_lines(job, NOW)


def test_a_run_started_a_moment_after_now_started_0_s_ago(served: Served) -> None:
    job = _job(served)
    ahead = (NOW + timedelta(seconds=0.4)).isoformat()
    running = {
        "id": 7,
        "job": "nightly",
        "started_at": ahead,
        "node": "n1",
        "progress_done": None,
        "progress_total": None,
        "progress_note": None,
    }
    job.update(running=[running])
    text = _text(running_table([job], NOW))
    assert "0 s ago" in text, text
    assert "in 0" not in text
    assert "running       run 7, started 0 s ago" in job_lines(job, NOW)


def test_a_job_shows_the_jobs_it_runs_after_and_before(served: Served) -> None:
    job = {**_job(served), "upstream": ["sync", "scan"], "downstream": ["build"]}
    lines = job_lines(job, NOW)
    assert "after         sync, scan" in lines
    assert "then          build" in lines
    alone = job_lines({**job, "upstream": [], "downstream": []}, NOW)
    assert not [line for line in alone if line.startswith(("after ", "then "))]
