"""The one shape every backend answers in: the JSON of the REST API (`rota.service.schemas`),
as plain dicts. The local backend builds it from rota's records here; the remote one gets it from
the service and only brings its times to the same spelling. So the CLI prints the same whichever
way it reaches the store, and ``--json`` output is the API's."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from rota.admin.views import JobInfo
from rota.store.records import EventRecord, RunRecord

__all__ = ["TIME_KEYS", "event_json", "job_json", "normal_times", "parse_time", "run_json"]

TIME_KEYS = frozenset(
    {
        "at",
        "fire_time",
        "queued_at",
        "not_before",
        "started_at",
        "finished_at",
        "next_fire_at",
        "next_fire_times",
    }
)
"""The keys whose values are times (or lists of times) in the API's JSON."""

Json = dict[str, Any]


def _time(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).isoformat()


def _seconds(value: timedelta | None) -> float | None:
    return None if value is None else value.total_seconds()


def parse_time(text: str) -> datetime:
    """An ISO 8601 time of the API's (``Z`` or an offset) as an aware datetime in UTC."""
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


OPAQUE_KEYS = frozenset({"args", "data", "defaults", "overrides", "schedule", "settings"})
"""Keys whose values are the user's or a setting's JSON: left as they are."""


def normal_times(value: Any, key: str | None = None) -> Any:
    """`value` with every time under `TIME_KEYS` spelled as `_time` spells it."""
    if isinstance(value, dict):
        return {k: v if k in OPAQUE_KEYS else normal_times(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [normal_times(v, key) for v in value]
    if key in TIME_KEYS and isinstance(value, str):
        return _time(parse_time(value))
    return value


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
