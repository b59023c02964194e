"""``GET /api/recent``: each job's last few runs in one request, for the jobs page's history
strip (status colours of the last N runs, as Oban's crons page shows): a skipped fire time or a
streak of failures is visible at a glance, without opening the activity page."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from rota.service.deps import RotaDep
from rota.store.records import RunStatus

__all__ = ["MAX_RECENT", "RecentOut", "router"]

router = APIRouter(tags=["jobs"])

MAX_RECENT = 50


class RecentRun(BaseModel):
    """One run in a strip: enough to colour it and link to it."""

    id: int = Field(examples=[42])
    status: RunStatus
    queued_at: datetime
    finished_at: datetime | None
    duration_seconds: float | None
    note: str | None = Field(description="Why it was skipped, when it was.")


class RecentOut(BaseModel):
    """A job's last runs, oldest first."""

    job: str = Field(examples=["library-scan"])
    runs: list[RecentRun]


@router.get("/recent", response_model=list[RecentOut], summary="Each job's last runs")
async def recent(
    rota: RotaDep,
    n: Annotated[int, Query(ge=1, le=MAX_RECENT, description="Runs per job.")] = 12,
    internal: Annotated[bool, Query(description="Include rota's own jobs.")] = False,
) -> list[RecentOut]:
    """The last `n` runs of every job (oldest first), one list per job, in name order."""
    found: list[RecentOut] = []
    for job in await rota.jobs_async(internal=internal):
        page = await rota.runs_async(job.name, None, n)
        runs = [
            RecentRun(
                id=run.id,
                status=run.status,
                queued_at=run.queued_at,
                finished_at=run.finished_at,
                duration_seconds=None if run.duration is None else run.duration.total_seconds(),
                note=run.note if run.status is RunStatus.SKIPPED else None,
            )
            for run in reversed(list(page))
        ]
        found.append(RecentOut(job=job.name, runs=runs))
    return found
