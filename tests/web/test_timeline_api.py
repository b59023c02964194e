"""``GET /api/timeline``: expected runs as long as the median duration, heavy overlaps with a
stagger suggestion, paused jobs without runs, the cap on runs per job."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from rota import Rota, asgi
from rota.service.routes_timeline import MAX_RUNS, build
from rota.testing import FakeClock

ADMIN = "admin-token-for-web-tests-0123456789"
VIEWER = "viewer-token-for-web-tests-0123456789"
START = "2026-06-01T12:00:00+02:00"


@pytest.fixture
def rota(tmp_path: Path) -> Iterator[Rota]:
    rota = Rota(f"sqlite:///{tmp_path}/t.db", timezone="Europe/Berlin", clock=FakeClock(START))
    for name, schedule in [
        ("scan", "daily 03:00"),
        ("backup", "daily 03:10"),
        ("thumbs", "daily 03:05"),
        ("often", "every 1m"),
        ("resting", "daily 04:00"),
    ]:
        rota.add_job(name, "tests.service.service_jobs:add", schedule=schedule)
    rota.pause("resting", "disk full")
    yield rota
    rota.close()


def medians(rota: Rota, **minutes: float) -> list:  # type: ignore[type-arg]
    return [
        dataclasses.replace(
            job,
            median_duration=(timedelta(minutes=minutes[job.name]) if job.name in minutes else None),
        )
        for job in rota.jobs()
    ]


def test_bars_are_as_long_as_the_median_and_heavy_overlaps_get_a_suggestion(rota: Rota) -> None:
    jobs = medians(rota, scan=14, backup=5, thumbs=0.1)
    start = datetime.fromisoformat(START)
    timeline = build(jobs, start, timedelta(hours=24), 60.0, "Europe/Berlin")
    rows = {row.name: row for row in timeline.jobs}
    scan = rows["scan"]
    assert [r.start.isoformat() for r in scan.runs] == ["2026-06-02T03:00:00+02:00"]
    assert scan.runs[0].end - scan.runs[0].start == timedelta(minutes=14)
    assert scan.heavy
    assert rows["backup"].heavy
    assert not rows["thumbs"].heavy
    assert rows["resting"].paused
    assert rows["resting"].runs == []
    assert rows["often"].median_duration_seconds is None
    assert not rows["often"].heavy
    # Only scan and backup are heavy: thumbs runs inside scan too, but is light.
    [overlap] = timeline.overlaps
    assert (overlap.first, overlap.second, overlap.count) == ("scan", "backup", 1)
    assert overlap.start.isoformat() == "2026-06-02T03:10:00+02:00"
    assert overlap.end.isoformat() == "2026-06-02T03:14:00+02:00"
    assert overlap.suggestion.startswith("start backup at 03:15 or later (scan takes about 14 min)")


def test_a_week_counts_each_overlap_and_caps_the_runs_of_a_frequent_job(rota: Rota) -> None:
    jobs = medians(rota, scan=14, backup=5)
    start = datetime.fromisoformat(START)
    timeline = build(jobs, start, timedelta(days=7), 60.0, "Europe/Berlin")
    rows = {row.name: row for row in timeline.jobs}
    assert len(rows["scan"].runs) == 7
    assert timeline.overlaps[0].count == 7
    assert len(rows["often"].runs) == MAX_RUNS
    assert rows["often"].truncated
    assert not rows["scan"].truncated


def test_jobs_that_do_not_touch_make_no_overlap(rota: Rota) -> None:
    jobs = medians(rota, scan=9, backup=5)  # scan ends 03:09, backup starts 03:10
    start = datetime.fromisoformat(START)
    assert build(jobs, start, timedelta(hours=24), 60.0, "Europe/Berlin").overlaps == []


def test_the_route_is_viewer_readable_and_names_a_bad_span(rota: Rota, tmp_path: Path) -> None:
    app = asgi(rota, admin_token=ADMIN, viewer_token=VIEWER, token_file=tmp_path / "tokens")
    with TestClient(app) as http:
        viewer = {"Authorization": f"Bearer {VIEWER}"}
        body = http.get("/api/timeline?span=week", headers=viewer).json()
        assert body["tz"] == "Europe/Berlin"
        assert body["start"] == "2026-06-01T12:00:00+02:00"  # the Rota's clock, its zone
        assert body["end"] == "2026-06-08T12:00:00+02:00"
        assert {job["name"] for job in body["jobs"]} == {
            "scan",
            "backup",
            "thumbs",
            "often",
            "resting",
        }
        bad = http.get("/api/timeline?span=month", headers=viewer)
        assert bad.status_code == 422
        assert "span" in bad.text
        assert http.get("/api/timeline").status_code == 401
