"""What the store holds: jobs, runs and nodes, as immutable records."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from rota.errors import SettingError

__all__ = [
    "ACTIVE",
    "FAILURE_LIKE",
    "FINISHED",
    "MEDIAN_OF",
    "EventKind",
    "EventRecord",
    "JobKind",
    "JobRecord",
    "JobStats",
    "NodeRecord",
    "Reason",
    "Retention",
    "RunRecord",
    "RunStatus",
    "median_duration",
]


class RunStatus(StrEnum):
    """Where a run is: queued → running → one of the finished states; or skipped (with a note)."""

    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    TIMED_OUT = "timed-out"
    INTERRUPTED = "interrupted"
    SKIPPED = "skipped"


ACTIVE = frozenset({RunStatus.QUEUED, RunStatus.RUNNING})
FINISHED = frozenset(RunStatus) - ACTIVE
# Kept longer by retention: what an admin needs to look into.
FAILURE_LIKE = frozenset({RunStatus.FAILED, RunStatus.TIMED_OUT, RunStatus.INTERRUPTED})


class Reason(StrEnum):
    """Why a run exists."""

    SCHEDULE = "schedule"
    CATCH_UP = "catch-up"
    MANUAL = "manual"
    RETRY = "retry"
    DEPENDENCY = "dependency"
    SPAWNED = "spawned"


class JobKind(StrEnum):
    """Where a job comes from (decision 0006)."""

    CODE = "code"
    """Defined by a decorator in the application's code."""
    RUNTIME = "runtime"
    """Added at run time (`AddJob`), with its function's import path as `target`."""
    INTERNAL = "internal"
    """rota's own (``rota-prune``): hidden from listings unless asked for, not removable."""


@dataclass(frozen=True)
class JobRecord:
    """A job as stored: code defaults, the admin's overrides, and when it next fires.

    `defaults` and `override` are JSON objects with the same keys (``schedule``, ``overlap``,
    ...); the effective setting is the override's where it has one. `defaults` also holds the
    function's ``parameters`` (names, required, any_keyword: `rota.engine.parameters`), so that
    a process without the job's code checks a run's arguments.
    """

    name: str
    defaults: dict[str, Any]
    override: dict[str, Any]
    paused: bool
    pause_note: str | None
    kind: JobKind
    target: str | None  # a runtime job's function, ``package.module:function``
    next_fire_at: datetime | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class RunRecord:
    """One execution attempt of a job (or a skipped one), with everything it left behind."""

    id: int
    job: str
    reason: Reason
    status: RunStatus
    fire_time: datetime | None
    queued_at: datetime
    not_before: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    attempt: int
    args: dict[str, Any]
    node: str | None
    progress_done: float | None
    progress_total: float | None
    progress_note: str | None
    note: str | None
    error: str | None
    traceback: str | None
    log: str
    retry_of: int | None
    cancel_requested: bool
    generation: int | None = None
    """The lease generation of the node life that claimed it (decision 0007)."""
    # How many fire times the run stands for: 1, or more for a skipped run that records a
    # streak of its job's fire times skipped one after another (`fire_time` is the streak's
    # first, `last_fire_time` its latest; None for a run of one fire time).
    fire_count: int = 1
    last_fire_time: datetime | None = None
    parent_run_id: int | None = None
    """The run that spawned this one (reason `spawned`), if any (decision 0012)."""
    spawn_key: str | None = None
    """A spawned run's key: no other queued or running run of its job has it."""
    upstream_runs: dict[str, int] = field(default_factory=dict)
    """A dependency run's upstream runs that triggered it, by job name (decision 0011); {} for
    a run of any other reason (and for runs stored before migration 0007)."""

    @property
    def duration(self) -> timedelta | None:
        """How long it ran, once it has finished (or None)."""
        if self.started_at is None or self.finished_at is None:
            return None
        return self.finished_at - self.started_at


@dataclass(frozen=True)
class NodeRecord:
    """One process running the engine."""

    id: str
    host: str
    pid: int
    started_at: datetime
    heartbeat_at: datetime
    stopped_at: datetime | None = None
    generation: int = 0
    """Its lease generation: a fencing token, new for each life (`Store.register_node`)."""
    life: str | None = None
    """Which process this is, beside host and pid (a pid is reused, as pid 1 in a container
    that restarts): the host's boot id and the process's start time, where the OS tells."""


@dataclass(frozen=True)
class JobStats:
    """What a job's history says at a glance (see `Store.job_stats`)."""

    last_run: RunRecord | None
    """The newest finished run that was not skipped."""
    last_success: RunRecord | None
    last_failure: RunRecord | None
    """The newest failed, timed-out or interrupted run."""
    consecutive_failures: int
    """Failure-like runs newer than the last success (skipped and cancelled ones count for
    neither side)."""
    last_duration: timedelta | None
    """How long the last run ran (None if it never started, e.g. cancelled while queued)."""
    median_duration: timedelta | None
    """The median of the durations of the newest 20 succeeded runs."""


MEDIAN_OF = 20
"""How many of a job's newest succeeded runs `JobStats.median_duration` is taken over."""


def median_duration(durations: Iterable[timedelta | None]) -> timedelta | None:
    """The median of the durations given (None ones left out; None if none is left)."""
    known = sorted(duration for duration in durations if duration is not None)
    if not known:
        return None
    middle = len(known) // 2
    return known[middle] if len(known) % 2 else (known[middle - 1] + known[middle]) / 2


class EventKind(StrEnum):
    """What changed: one event per committed state change (decision 0006's table)."""

    JOB_ADDED = "job.added"
    JOB_CHANGED = "job.changed"
    JOB_PAUSED = "job.paused"
    JOB_RESUMED = "job.resumed"
    JOB_REMOVED = "job.removed"
    RUN_QUEUED = "run.queued"
    RUN_SKIPPED = "run.skipped"
    RUN_STARTED = "run.started"
    RUN_PROGRESS = "run.progress"
    RUN_FINISHED = "run.finished"
    RUN_CANCELLING = "run.cancelling"
    RUN_CANCELLED = "run.cancelled"
    RUN_INTERRUPTED = "run.interrupted"


@dataclass(frozen=True)
class EventRecord:
    """One committed change, from the events table (an outbox: ids ascend in commit order).

    `origin` is the token of the store object that wrote it (`Store.origin`), so a follower can
    leave out what its own process wrote.
    """

    id: int
    at: datetime
    kind: EventKind
    job: str | None
    run_id: int | None
    data: dict[str, Any]
    origin: str


@dataclass(frozen=True)
class Retention:
    """How much history a job keeps (see docs): the newest `keep_last` runs always; failure-like
    runs for `failed_for`, others for `succeeded_for`. A `fast` job (firing more than once a
    minute) keeps only its newest `keep_last` successes and `fast_failures` failures."""

    keep_last: int = 100
    failed_for: timedelta = timedelta(days=30)
    succeeded_for: timedelta = timedelta(days=7)
    fast: bool = False
    fast_failures: int = 1000

    def __post_init__(self) -> None:
        # Checked here, so that a bad value fails where the job is registered, not in every
        # prune run afterwards. Zero is allowed throughout: keep nothing beyond the newest.
        for name in ("keep_last", "fast_failures"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= _COUNT:
                raise SettingError(
                    f"retention {name}", repr(value), f"{value!r} is not a whole number 0-{_COUNT}"
                )
        for name in ("failed_for", "succeeded_for"):
            value = getattr(self, name)
            if not isinstance(value, timedelta) or not timedelta(0) <= value <= _LONGEST:
                raise SettingError(
                    f"retention {name}",
                    repr(value),
                    f"{value!r} is not a timedelta from 0 to {_LONGEST.days} days",
                )
        if not isinstance(self.fast, bool):
            raise SettingError("retention fast", repr(self.fast), f"{self.fast!r} is not a bool")


# The most a count can be (what the store keeps); the longest a duration (older instants than
# now minus it would not be representable).
_COUNT = 2**63 - 1
_LONGEST = timedelta(days=100 * 366)
