"""The API's request and response bodies: pydantic models built from rota's records, and the
settings part of a job's from `SETTINGS` (each setting's name, help and whether an admin may
override it come from its one declaration; only its JSON type is said here)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model, field_validator

from rota.admin.shapes import event_json, job_json, run_json
from rota.admin.views import JobInfo
from rota.engine.isolation import Isolation
from rota.engine.policies import CatchUp, Overlap
from rota.engine.settings import SETTINGS
from rota.schedules import Preview
from rota.store.records import EventRecord, NodeRecord, Reason, RunRecord, RunStatus

__all__ = [
    "AddJobIn",
    "ErrorOut",
    "EventOut",
    "JobOut",
    "JobPatch",
    "NodeOut",
    "PreviewOut",
    "RunCreated",
    "RunDetail",
    "RunNowIn",
    "RunOut",
    "RunPageOut",
    "SettingsIn",
]

MAX_ID = 2**63 - 1
"""The largest run id the store can hold: bigger ones are refused as input errors."""

_Duration = str | float
# The JSON type of each setting (what the setting's `read` accepts from JSON). A setting added
# to SETTINGS without a type here fails at import, so the schema never silently drops one.
_TYPES: dict[str, tuple[Any, Any]] = {
    "schedule": (str | dict[str, Any], "daily 02:00"),
    "description": (str, "Scan the library for new files"),
    "args": (dict[str, Any], {"full": False}),
    "overlap": (Literal[tuple(o.value for o in Overlap)], "skip"),
    "max_concurrent": (int, 1),
    "catch_up": (Literal[tuple(c.value for c in CatchUp)], "once"),
    "grace": (_Duration, "60s"),
    "retry": (int | dict[str, Any], {"attempts": 3, "backoff": "10s", "max_delay": "10m"}),
    "timeout": (_Duration | None, "2h"),
    "start_delay": (_Duration | None, "30s"),
    "retention": (dict[str, Any], {"keep_last": 100, "failed_for": "30d"}),
    "isolation": (Literal[tuple(i.value for i in Isolation)], "none"),
    "requires": (list[str], ["myapp.checks:tmdb_key_set"]),
}
_missing = {s.name for s in SETTINGS} ^ set(_TYPES)
if _missing:  # pragma: no cover - a developer's error, found by any import
    raise RuntimeError(f"rota.service.schemas: no JSON type for settings {sorted(_missing)}")


def _settings_model(name: str, doc: str, *, overridable_only: bool) -> type[BaseModel]:
    fields: dict[str, Any] = {}
    for setting in SETTINGS:
        if overridable_only and not setting.overridable:
            continue
        kind, example = _TYPES[setting.name]
        fields[setting.name] = (
            kind | None,
            Field(default=None, description=setting.help, examples=[example]),
        )
    model: type[BaseModel] = create_model(
        name, __config__=ConfigDict(extra="forbid"), __doc__=doc, **fields
    )
    return model


SettingsIn = _settings_model(
    "SettingsIn",
    "A job's settings, as code gives them (any left out: the default).",
    overridable_only=False,
)
_Overrides = _settings_model(
    "Overrides", "The settings an admin may override.", overridable_only=True
)


class JobPatch(_Overrides):  # type: ignore[misc, valid-type]
    """What to change about a job: any overridable setting (validated as `Rota.override`
    validates it; all or nothing), and `paused` with a `note`. Reset an override with
    ``DELETE /api/jobs/{name}/overrides/{setting}``."""

    paused: bool | None = Field(default=None, description="Stop or resume firing on schedule.")
    note: str | None = Field(
        default=None, max_length=2000, description="Why it is paused.", examples=["disk full"]
    )
    requires: list[str] | None = Field(
        default=None,
        description="Not overridable: a job's prerequisites are functions in its code.",
    )

    @field_validator("requires")
    @classmethod
    def _code_only(cls, value: list[str] | None) -> None:
        if value is not None:
            raise ValueError(
                "is the job's code (prerequisites are functions): change it where the job is "
                "defined; an admin cannot override it"
            )

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"schedule": "daily 03:30", "overlap": "queue"}]},
    )


class AddJobIn(SettingsIn):  # type: ignore[misc, valid-type]
    """A job added at run time: a name, its function's import path, and its settings."""

    name: str = Field(description="1-100 letters, digits, '-', '_' or '.'.", max_length=200)
    function: str = Field(
        description="The function every node imports: ``package.module:function``.",
        max_length=500,
    )

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"name": "backup", "function": "myapp.jobs:backup", "schedule": "daily 01:00"}
            ]
        },
    )


class RunNowIn(BaseModel):
    """Arguments of a manual run, and when it may start (none: now, through the overlap
    policy; it does not move the job's next scheduled run)."""

    args: dict[str, Any] = Field(default_factory=dict, description="Keyword arguments (JSON).")
    at: datetime | None = Field(default=None, description="ISO 8601 with offset, in the future.")

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"args": {"full": True}}]}
    )


class ErrorOut(BaseModel):
    """Every error: what kind, a message, and (for bad input) the field, value and reason."""

    error: str = Field(examples=["ScheduleError"])
    message: str = Field(examples=["minute field: 61 is out of range 0-59"])
    field: str | None = Field(default=None, examples=["minute field"])
    value: str | None = Field(default=None, examples=["61"])
    reason: str | None = Field(default=None, examples=["61 is out of range 0-59"])


class RunOut(BaseModel):
    """A run as listed: everything but its log and traceback."""

    id: int = Field(examples=[42])
    job: str = Field(examples=["library-scan"])
    reason: Reason
    status: RunStatus
    fire_time: datetime | None
    queued_at: datetime
    not_before: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    duration_seconds: float | None
    attempt: int
    args: dict[str, Any]
    node: str | None
    progress_done: float | None
    progress_total: float | None
    progress_note: str | None
    note: str | None
    error: str | None
    retry_of: int | None
    cancel_requested: bool
    parent_run_id: int | None = Field(
        default=None, description="The run that spawned this one (reason `spawned`)."
    )
    spawn_key: str | None = Field(
        default=None, description="A spawned run's key, unique among its job's active runs."
    )
    upstream_runs: dict[str, int] = Field(
        default_factory=dict,
        description=(
            "A dependency run's link to the upstream runs that triggered it: job name to run "
            "id (reason `dependency`); {} for a run of any other reason."
        ),
        examples=[{"embeddings": 12, "sync": 9}],
    )

    @classmethod
    def of(cls, run: RunRecord) -> RunOut:
        return cls.model_validate(run_json(run))


class RunDetail(RunOut):
    """One run with everything it recorded, its log and traceback too."""

    log: str
    traceback: str | None

    @classmethod
    def of(cls, run: RunRecord) -> RunDetail:
        return cls.model_validate(run_json(run, detail=True))


class RunPageOut(BaseModel):
    """A page of runs, newest first: pass `next_cursor` as `cursor` for the next page."""

    items: list[RunOut]
    total: int = Field(description="How many runs match the filters in all.", examples=[1234])
    next_cursor: int | None = Field(description="None on the last page.", examples=[1190])


class RunCreated(BaseModel):
    """A run that was asked for: its id and status (``skipped`` with the reason, when the
    job's overlap policy said so)."""

    id: int = Field(examples=[43])
    status: RunStatus
    note: str | None = Field(examples=[None])


class ScheduleOut(BaseModel):
    """A schedule: its text, what it means in words, and its JSON form."""

    text: str = Field(examples=["daily 02:00"])
    description: str = Field(examples=["every day at 02:00"])
    data: dict[str, Any]


class JobOut(BaseModel):
    """A job as a jobs page shows it."""

    name: str = Field(examples=["library-scan"])
    description: str
    kind: Literal["code", "runtime", "internal"]
    target: str | None
    in_code: bool
    orphaned: bool
    schedule: ScheduleOut
    next_fire_at: datetime | None
    next_fire_times: list[datetime]
    paused: bool
    pause_note: str | None
    settings: dict[str, Any] = Field(description="The effective settings, as JSON.")
    defaults: dict[str, Any] = Field(description="The code's settings, as JSON.")
    overrides: dict[str, Any] = Field(description="What an admin changed (same keys).")
    running: list[RunOut]
    queued: int
    last_run: RunOut | None
    last_success: RunOut | None
    last_failure: RunOut | None
    consecutive_failures: int
    last_duration_seconds: float | None
    median_duration_seconds: float | None
    upstream: list[str] = Field(
        default_factory=list, description="The jobs this one is after (its 'after' schedule)."
    )
    downstream: list[str] = Field(
        default_factory=list, description="The jobs after this one: its successes trigger them."
    )

    @classmethod
    def of(cls, job: JobInfo) -> JobOut:
        return cls.model_validate(job_json(job))


class PreviewOut(BaseModel):
    """The next fire times of a schedule text, in the Rota's zone, with DST notes."""

    schedule: ScheduleOut
    tz: str = Field(examples=["Europe/Berlin"])
    fire_times: list[datetime]
    notes: list[str] = Field(
        examples=[["2026-03-29: clocks go forward 02:00 → 03:00; 02:30 runs at 03:00"]]
    )

    @classmethod
    def of(cls, preview: Preview) -> PreviewOut:
        schedule = preview.schedule
        return cls(
            schedule=ScheduleOut(
                text=schedule.text, description=schedule.describe(), data=schedule.to_dict()
            ),
            tz=preview.tz,
            fire_times=list(preview.fire_times),
            notes=list(preview.notes),
        )


class NodeOut(BaseModel):
    """A node (a process running the engine), how long ago it renewed its lease, and the runs
    it is running."""

    id: str = Field(examples=["host:1234:ab12cd"])
    host: str
    pid: int
    started_at: datetime
    heartbeat_at: datetime
    heartbeat_age_seconds: float
    alive: bool
    stopped_at: datetime | None
    running: list[RunOut]

    @classmethod
    def of(cls, node: NodeRecord, now: datetime, alive: bool, running: list[RunRecord]) -> NodeOut:
        return cls(
            id=node.id,
            host=node.host,
            pid=node.pid,
            started_at=node.started_at,
            heartbeat_at=node.heartbeat_at,
            heartbeat_age_seconds=max(0.0, (now - node.heartbeat_at).total_seconds()),
            alive=alive,
            stopped_at=node.stopped_at,
            running=[RunOut.of(r) for r in running],
        )


class EventOut(BaseModel):
    """One committed change: the `data` of a server-sent event (its `id:` and `event:` lines
    are `id` and `kind`)."""

    id: int = Field(examples=[1017])
    at: datetime
    kind: str = Field(examples=["run.finished"])
    job: str | None = Field(examples=["library-scan"])
    run_id: int | None = Field(examples=[42])
    data: dict[str, Any] = Field(examples=[{"status": "succeeded", "note": None}])

    @classmethod
    def of(cls, event: EventRecord) -> EventOut:
        return cls.model_validate(event_json(event))
