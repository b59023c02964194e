"""``GET /api/timeline``: each job's expected runs over the next day or week, drawn by the page as
bars as long as the job's median measured duration, and the overlaps between heavy jobs (both
with a median of at least `heavy` seconds) with a suggestion to stagger them.

Computed from the jobs' effective schedules on the Rota's clock: a paused job is listed with no
runs (it will not fire until resumed); a job with no finished run yet has no median, and its runs
are drawn as ticks and never counted as overlapping.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from rota.admin.views import JobInfo
from rota.schedules.zones import get_zone
from rota.service.deps import RotaDep

__all__ = ["MAX_RUNS", "TimelineOut", "router"]

router = APIRouter(tags=["timeline"])

MAX_RUNS = 400
"""At most this many expected runs per job (an every-minute job over a week would be 10,080):
the page draws the rest as a dense band and says the list was cut (`truncated`)."""
_SPANS = {"day": timedelta(hours=24), "week": timedelta(days=7)}
_STAGGER_STEP = 300  # seconds: suggested start times are rounded up to 5 minutes


class ExpectedRun(BaseModel):
    """One expected run: when it fires and when it would end (fire time + median duration)."""

    start: datetime
    end: datetime


class TimelineJob(BaseModel):
    """A job's row in the timeline."""

    name: str = Field(examples=["library-scan"])
    description: str
    schedule: str = Field(examples=["every 6h"])
    schedule_description: str = Field(examples=["every 6 hours"])
    paused: bool
    median_duration_seconds: float | None
    heavy: bool = Field(description="Its median duration is at least `heavy` seconds.")
    runs: list[ExpectedRun]
    truncated: bool = Field(description=f"More than {MAX_RUNS} runs fall in the span.")


class Overlap(BaseModel):
    """Two heavy jobs expected to run at the same time: the first such time, how often it
    happens in the span, and a suggested start for the later one."""

    first: str = Field(description="The job that starts first.", examples=["library-scan"])
    second: str = Field(description="The job that starts while it runs.", examples=["backup"])
    start: datetime = Field(description="When the first shared stretch begins.")
    end: datetime = Field(description="When it ends.")
    first_run: ExpectedRun = Field(description="The first job's run in the first overlap.")
    second_run: ExpectedRun = Field(description="The second job's run in the first overlap.")
    count: int = Field(description="How many times the two overlap in the span.", examples=[1])
    suggestion: str = Field(
        examples=["start backup at 03:15 or later (library-scan takes about 14 min)"]
    )


class TimelineOut(BaseModel):
    """The expected runs of every job from `start` to `end`, and the heavy jobs' overlaps."""

    start: datetime
    end: datetime
    tz: str = Field(examples=["Europe/Berlin"])
    heavy_seconds: float
    jobs: list[TimelineJob]
    overlaps: list[Overlap]


@router.get("/timeline", response_model=TimelineOut, summary="Timeline of expected runs")
async def timeline(
    rota: RotaDep,
    span: Annotated[
        Literal["day", "week"], Query(description="The next 24 hours or the next 7 days.")
    ] = "day",
    heavy: Annotated[
        float,
        Query(ge=1, le=7 * 86400, description="Seconds of median duration that make a job heavy."),
    ] = 60.0,
) -> TimelineOut:
    """Each job's expected runs (bars as long as its median measured duration) and where heavy
    jobs overlap, with a suggestion to stagger them."""
    jobs = await rota.jobs_async()
    start = rota.clock.now().astimezone(get_zone(rota.timezone))
    return build(jobs, start, _SPANS[span], heavy, rota.timezone)


def build(
    jobs: list[JobInfo], start: datetime, span: timedelta, heavy: float, tz: str
) -> TimelineOut:
    """The timeline of `jobs` from `start` for `span` (a pure function of its inputs)."""
    end = start + span
    rows = [_row(job, start, end, heavy) for job in jobs]
    return TimelineOut(
        start=start,
        end=end,
        tz=tz,
        heavy_seconds=heavy,
        jobs=rows,
        overlaps=_overlaps([row for row in rows if row.heavy and not row.paused], tz),
    )


def _row(job: JobInfo, start: datetime, end: datetime, heavy: float) -> TimelineJob:
    median = None if job.median_duration is None else job.median_duration.total_seconds()
    length = timedelta(seconds=median or 0.0)
    runs: list[ExpectedRun] = []
    truncated = False
    if not job.paused and not job.orphaned:
        cursor: datetime | None = start
        while cursor is not None:
            cursor = job.schedule.next_after(cursor)
            if cursor is None or cursor >= end:
                break
            if len(runs) == MAX_RUNS:
                truncated = True
                break
            runs.append(ExpectedRun(start=cursor, end=cursor + length))
    return TimelineJob(
        name=job.name,
        description=job.description,
        schedule=job.schedule.text,
        schedule_description=job.schedule.describe(),
        paused=job.paused,
        median_duration_seconds=median,
        heavy=median is not None and median >= heavy,
        runs=runs,
        truncated=truncated,
    )


def _overlaps(rows: list[TimelineJob], tz: str) -> list[Overlap]:
    found: list[Overlap] = []
    for i, a in enumerate(rows):
        for b in rows[i + 1 :]:
            overlap = _pair(a, b, tz)
            if overlap is not None:
                found.append(overlap)
    return sorted(found, key=lambda o: (o.start, o.first, o.second))


def _pair(a: TimelineJob, b: TimelineJob, tz: str) -> Overlap | None:
    """The overlaps of two jobs' runs (a sweep over both sorted lists)."""
    hits: list[tuple[ExpectedRun, ExpectedRun]] = []
    i = j = 0
    while i < len(a.runs) and j < len(b.runs):
        x, y = a.runs[i], b.runs[j]
        if x.start < y.end and y.start < x.end:
            hits.append((x, y))
        if x.end <= y.end:
            i += 1
        else:
            j += 1
    if not hits:
        return None
    x, y = hits[0]
    if (x.start, a.name) <= (y.start, b.name):
        first, second, earlier, later = a, b, x, y
    else:
        first, second, earlier, later = b, a, y, x
    minutes = math.ceil((first.median_duration_seconds or 0) / 60)
    at = earlier.end
    past = (at.minute * 60 + at.second) % _STAGGER_STEP
    if past or at.microsecond:
        at = at.replace(microsecond=0) + timedelta(seconds=_STAGGER_STEP - past)
    local = at.astimezone(get_zone(tz)).strftime("%H:%M")
    return Overlap(
        first=first.name,
        second=second.name,
        start=later.start,
        end=min(earlier.end, later.end),
        first_run=earlier,
        second_run=later,
        count=len(hits),
        suggestion=(
            f"start {second.name} at {local} or later ({first.name} takes about "
            f"{minutes} min), or give it a start delay"
        ),
    )
