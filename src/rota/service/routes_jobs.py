"""Jobs: list, read, change (overrides, pause), reset, run now or later, add at run time,
delete; and the preview of a schedule text that a schedule dialog shows as the admin types."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Query, Response

from rota.engine.settings import OVERRIDABLE
from rota.errors import SettingError
from rota.schedules.preview import MAX_PREVIEW
from rota.service.deps import RotaDep
from rota.service.schemas import (
    AddJobIn,
    JobOut,
    JobPatch,
    PreviewOut,
    RunCreated,
    RunNowIn,
)
from rota.store.records import RunStatus

__all__ = ["router"]

Responses = dict[int | str, dict[str, Any]]

router = APIRouter(tags=["jobs"])
JobName = Annotated[str, Path(description="The job's name.", max_length=200)]
_404: Responses = {404: {"description": "No job has this name."}}
_409: Responses = {
    409: {"description": "The change does not fit what is there (named in the message)."}
}


@router.get("/jobs", response_model=list[JobOut], summary="List jobs")
async def list_jobs(
    rota: RotaDep,
    internal: Annotated[bool, Query(description="Include rota's own jobs.")] = False,
) -> list[JobOut]:
    """Every job by name, with what a jobs page shows."""
    return [JobOut.of(job) for job in await rota.jobs_async(internal=internal)]


@router.get("/jobs/{name}", response_model=JobOut, summary="Get a job", responses=_404)
async def get_job(rota: RotaDep, name: JobName) -> JobOut:
    """One job (rota's own too)."""
    return JobOut.of(await rota.job_info_async(name))


@router.patch("/jobs/{name}", response_model=JobOut, summary="Change a job", responses=_404)
async def patch_job(rota: RotaDep, name: JobName, patch: JobPatch) -> JobOut:
    """Override settings (validated as `Rota.override` validates them: all or nothing), and
    pause (with a note) or resume. Only the fields given are changed."""
    given: dict[str, Any] = {
        key: getattr(patch, key) for key in patch.model_fields_set if key in OVERRIDABLE
    }
    if patch.note is not None and patch.paused is not True:
        raise SettingError("note", patch.note[:40], "a note goes with paused: true")
    job = await rota.job_info_async(name)
    if given:
        job = await rota.override_async(name, **given)
    if patch.paused is True:
        job = await rota.pause_async(name, patch.note)
    elif patch.paused is False:
        job = await rota.resume_async(name)
    return JobOut.of(job)


@router.delete(
    "/jobs/{name}/overrides", response_model=JobOut, summary="Reset a job", responses=_404
)
async def reset_job(rota: RotaDep, name: JobName) -> JobOut:
    """Drop every override and the pause: the job is as its code says again."""
    return JobOut.of(await rota.reset_async(name))


@router.delete(
    "/jobs/{name}/overrides/{setting}",
    response_model=JobOut,
    summary="Reset one setting",
    responses=_404,
)
async def reset_setting(
    rota: RotaDep,
    name: JobName,
    setting: Annotated[str, Path(description=f"One of {', '.join(sorted(OVERRIDABLE))}.")],
) -> JobOut:
    """Drop the override of one setting."""
    return JobOut.of(await rota.reset_async(name, setting))


@router.post(
    "/jobs/{name}/runs",
    response_model=RunCreated,
    status_code=201,
    summary="Run a job now or later",
    responses=_404,
)
async def run_job(
    rota: RotaDep, name: JobName, body: Annotated[RunNowIn | None, Body()] = None
) -> RunCreated:
    """Queue a manual run with JSON arguments: now, through the job's overlap policy (then it
    may be recorded skipped, with the reason), or at `at`. The job's next scheduled run does
    not move."""
    body = body or RunNowIn()
    if body.at is not None:
        run_id = await rota.run_later_async(name, body.at, **body.args)
    else:
        run_id = await rota.run_now_async(name, **body.args)
    run = await rota.get_run_async(run_id)
    note = run.note if run.status is RunStatus.SKIPPED else None
    return RunCreated(id=run.id, status=run.status, note=note)


@router.post("/jobs", response_model=JobOut, status_code=201, summary="Add a job", responses=_409)
async def add_job(rota: RotaDep, body: AddJobIn) -> JobOut:
    """Store a job defined at run time: every node imports `function` to run it. 409 if the
    name is taken."""
    settings = {
        key: getattr(body, key)
        for key in body.model_fields_set
        if key not in {"name", "function"} and getattr(body, key) is not None
    }
    return JobOut.of(await rota.add_job_async(body.name, body.function, **settings))


@router.delete(
    "/jobs/{name}",
    status_code=204,
    response_class=Response,
    summary="Delete a job",
    responses={**_404, **_409},
)
async def delete_job(rota: RotaDep, name: JobName) -> Response:
    """Delete a run-time job, or a code job no live node defines any more, with its history.
    409 for a job in live code, rota's own, or one with a running run."""
    await rota.remove_job_async(name)
    return Response(status_code=204)


@router.get("/preview", response_model=PreviewOut, summary="Preview a schedule")
async def preview_schedule(
    rota: RotaDep,
    schedule: Annotated[
        str, Query(description="A schedule's text.", max_length=500, examples=["daily 02:00"])
    ],
    n: Annotated[int, Query(ge=1, le=MAX_PREVIEW, description="How many fire times.")] = 5,
) -> PreviewOut:
    """The next `n` fire times in the Rota's zone, what the schedule means, and notes on DST
    changes among them; 422 naming the field, value and reason when the text is invalid."""
    return PreviewOut.of(rota.preview(schedule, n))
