"""Runs (list with filters and paging, one with its log, cancel, retry) and nodes."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query

from rota.admin.views import MAX_PAGE
from rota.app import Rota
from rota.service.deps import RotaDep
from rota.service.schemas import MAX_ID, NodeOut, RunCreated, RunDetail, RunOut, RunPageOut
from rota.store.records import Reason, RunRecord, RunStatus

__all__ = ["router"]

Responses = dict[int | str, dict[str, Any]]

router = APIRouter()
RunId = Annotated[int, Path(ge=1, le=MAX_ID, description="The run's id.")]
_RETRY_409: Responses = {409: {"description": "The run has not failed, or was retried."}}
_404: Responses = {404: {"description": "No run has this id."}}


@router.get(
    "/runs",
    response_model=RunPageOut,
    summary="List runs",
    tags=["runs"],
    responses={404: {"description": "No job has the name given as `job`."}},
)
async def list_runs(
    rota: RotaDep,
    job: Annotated[str | None, Query(max_length=200, description="One job's runs.")] = None,
    status: Annotated[list[RunStatus] | None, Query(description="Any of these.")] = None,
    reason: Annotated[list[Reason] | None, Query(description="Any of these.")] = None,
    since: Annotated[datetime | None, Query(description="Queued at or after (ISO 8601).")] = None,
    until: Annotated[datetime | None, Query(description="Queued before (ISO 8601).")] = None,
    parent_run_id: Annotated[
        int | None, Query(ge=1, le=MAX_ID, description="Only the runs this run spawned.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
    cursor: Annotated[
        int | None, Query(ge=1, le=MAX_ID, description="`next_cursor` of the page before.")
    ] = None,
) -> RunPageOut:
    """A page of runs, newest first, with the total matching the filters."""
    page = await rota.runs_async(
        job,
        None if status is None else [s.value for s in status],
        limit,
        cursor,
        reason=None if reason is None else [r.value for r in reason],
        since=_aware(since),
        until=_aware(until),
        parent_run_id=parent_run_id,
    )
    return RunPageOut(
        items=[RunOut.of(run) for run in page],
        total=page.total,
        next_cursor=page.next_before_id,
    )


def _aware(value: datetime | None) -> datetime | None:
    """Times without an offset are read as UTC (the API's times all carry one)."""
    if value is not None and value.utcoffset() is None:
        return value.replace(tzinfo=UTC)
    return value


@router.get(
    "/runs/{run_id}", response_model=RunDetail, summary="Get a run", responses=_404, tags=["runs"]
)
async def get_run(rota: RotaDep, run_id: RunId) -> RunDetail:
    """One run with everything it recorded: times, status, error, traceback, progress, log."""
    return RunDetail.of(await rota.get_run_async(run_id))


@router.post(
    "/runs/{run_id}/cancel",
    response_model=RunDetail,
    summary="Cancel a run",
    responses=_404,
    tags=["runs"],
)
async def cancel_run(rota: RotaDep, run_id: RunId) -> RunDetail:
    """Cancel a queued or running run (a running one stops when its node hears it); a finished
    run is left as it is. The run, after."""
    return RunDetail.of(await rota.cancel_async(run_id))


@router.post(
    "/runs/{run_id}/retry",
    response_model=RunCreated,
    status_code=201,
    summary="Retry a run",
    responses={**_404, **_RETRY_409},
    tags=["runs"],
)
async def retry_run(rota: RotaDep, run_id: RunId) -> RunCreated:
    """Queue the next attempt of a failed, timed-out, interrupted or cancelled run now."""
    created = await rota.retry_async(run_id)
    run = await rota.get_run_async(created)
    return RunCreated(id=run.id, status=run.status, note=None)


@router.get("/nodes", response_model=list[NodeOut], summary="List nodes", tags=["nodes"])
async def list_nodes(rota: RotaDep) -> list[NodeOut]:
    """Every node the store knows, with its heartbeat's age and the runs it is running."""
    return await asyncio.to_thread(_nodes, rota)


def _nodes(rota: Rota) -> list[NodeOut]:
    store = rota.store
    nodes = store.list_nodes()
    now = store.database_now(rota.clock.now())
    running: dict[str, list[RunRecord]] = {}
    for run in store.active_runs():
        if run.status is RunStatus.RUNNING and run.node is not None:
            running.setdefault(run.node, []).append(run)
    return [
        NodeOut.of(
            node,
            now,
            node.stopped_at is None and node.heartbeat_at >= now - rota.lease,
            running.get(node.id, []),
        )
        for node in sorted(nodes, key=lambda n: n.started_at, reverse=True)
    ]
