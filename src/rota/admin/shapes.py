"""The admin surface as JSON: runs, jobs, events and limiters in the one shape the REST API
answers in (`rota.service.schemas` validates these dicts) and the command line prints, built here
once so that the two can never disagree. Plain dicts of JSON values: no web framework needed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from rota.admin.limiters import LimiterInfo
from rota.admin.views import JobInfo
from rota.store.records import EventRecord, RunRecord

__all__ = ["Json", "event_json", "job_json", "limiter_json", "run_json"]

Json = dict[str, Any]


def _time(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).isoformat()


def _seconds(value: timedelta | None) -> float | None:
    return None if value is None else value.total_seconds()


def run_json(run: RunRecord, *, detail: bool = False) -> Json:
    """A run as `RunOut` (with `detail`: `RunDetail`, its log and traceback too)."""
    shaped: Json = {
        "id": run.id,
        "job": run.job,
        "reason": run.reason.value,
        "status": run.status.value,
        "fire_time": _time(run.fire_time),
        "queued_at": _time(run.queued_at),
        "not_before": _time(run.not_before),
        "started_at": _time(run.started_at),
        "finished_at": _time(run.finished_at),
        "duration_seconds": _seconds(run.duration),
        "attempt": run.attempt,
        "args": run.args,
        "node": run.node,
        "progress_done": run.progress_done,
        "progress_total": run.progress_total,
        "progress_note": run.progress_note,
        "note": run.note,
        "error": run.error,
        "retry_of": run.retry_of,
        "cancel_requested": run.cancel_requested,
        "parent_run_id": run.parent_run_id,
        "spawn_key": run.spawn_key,
        "upstream_runs": dict(run.upstream_runs),
    }
    if detail:
        shaped["log"] = run.log
        shaped["traceback"] = run.traceback
    return shaped


def job_json(job: JobInfo) -> Json:
    """A job as `JobOut`."""

    def run(record: RunRecord | None) -> Json | None:
        return None if record is None else run_json(record)

    return {
        "name": job.name,
        "description": job.description,
        "kind": job.kind.value,
        "target": job.target,
        "in_code": job.in_code,
        "orphaned": job.orphaned,
        "schedule": {
            "text": job.schedule.text,
            "description": job.schedule.describe(),
            "data": job.schedule.to_dict(),
        },
        "next_fire_at": _time(job.next_fire_at),
        "next_fire_times": [_time(t) for t in job.next_fire_times],
        "paused": job.paused,
        "pause_note": job.pause_note,
        "settings": job.settings.to_json(),
        "defaults": job.defaults,
        "overrides": job.overrides,
        "running": [run_json(r) for r in job.running],
        "queued": job.queued,
        "last_run": run(job.last_run),
        "last_success": run(job.last_success),
        "last_failure": run(job.last_failure),
        "consecutive_failures": job.consecutive_failures,
        "last_duration_seconds": _seconds(job.last_duration),
        "median_duration_seconds": _seconds(job.median_duration),
        "upstream": list(job.upstream),
        "downstream": list(job.downstream),
    }


def event_json(event: EventRecord) -> Json:
    """An event as `EventOut`."""
    return {
        "id": event.id,
        "at": _time(event.at),
        "kind": event.kind.value,
        "job": event.job,
        "run_id": event.run_id,
        "data": event.data,
    }


def limiter_json(info: LimiterInfo) -> Json:
    """A limiter as `LimiterOut`."""
    return {
        "name": info.name,
        "capacity": info.capacity,
        "period_seconds": info.period.total_seconds(),
        "in_use": info.in_use,
        "next_refill": _time(info.next_refill),
        "max_wait_seconds": _seconds(info.max_wait),
        "declared": info.declared,
    }
