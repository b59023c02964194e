"""Input checks both stores run before they write, so both fail the same way with the same words.

The database would catch some of these too, but late and in its own terms (a naive datetime loses
its meaning silently on SQLite; a bad status is just text). Checking up front also means an
`apply` that fails on input writes nothing and names the operation and field at fault.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from rota.errors import StoreError
from rota.store.abc import (
    UNSET,
    AddJob,
    Chain,
    Claim,
    Enqueue,
    Finish,
    Fire,
    InterruptRuns,
    Lease,
    NewRun,
    Operation,
    Progress,
    ReapNode,
    RemoveJob,
    RequestCancel,
    UpdateJob,
)
from rota.store.records import FINISHED, JobKind, NodeRecord, Reason, Retention, RunStatus

__all__ = [
    "SUPPORTED_URLS",
    "RunFilter",
    "aware",
    "check_events_after",
    "check_limit",
    "check_names",
    "check_node",
    "check_operation",
    "check_prune_events",
    "check_retention",
    "check_run_filter",
    "check_statuses",
    "check_sync",
    "encode_json",
    "normal_json",
    "possible_id",
    "sync_field",
]

SUPPORTED_URLS = "memory://[NAME], sqlite:///PATH (a file), postgresql+psycopg://USER@HOST/DATABASE"
"""The store URLs rota understands, as error messages list them."""

_NEW_RUN_STATUSES = (RunStatus.QUEUED, RunStatus.SKIPPED)


def aware(value: object, field: str) -> datetime:
    """`value` if it is an aware datetime; otherwise a StoreError naming `field`."""
    if not isinstance(value, datetime):
        raise StoreError(f"{field}: {value!r} is not a datetime")
    if value.utcoffset() is None:
        raise StoreError(
            f"{field}: {value.isoformat()} has no time zone; the store takes aware datetimes "
            "(e.g. with tzinfo=timezone.utc)"
        )
    return value


def _optional_time(value: object, field: str) -> None:
    if value is not None:
        aware(value, field)


def encode_json(value: object) -> str:
    """The JSON text the store keeps; NaN and infinities are refused, as PostgreSQL would."""
    try:
        return json.dumps(value, allow_nan=False, separators=(",", ":"))
    except (TypeError, ValueError) as error:
        raise StoreError(f"{_short(value)} is not JSON: {error}") from None


def json_text(value: Any, field: str) -> str:
    """The JSON text of `value` as a JSON column stores it; StoreError naming `field`."""
    try:
        return encode_json(dict(value) if isinstance(value, Mapping) else value)
    except StoreError as error:
        raise StoreError(f"{field}: {error}") from None


def normal_json(value: Any, field: str) -> Any:
    """`value` as it comes back from a JSON column (tuples become lists, keys text)."""
    if isinstance(value, Mapping):
        if not value:
            return {}
        value = dict(value)
    try:
        return json.loads(encode_json(value))
    except StoreError as error:
        raise StoreError(f"{field}: {error}") from None


def _json_object(value: object, field: str) -> None:
    if not isinstance(value, Mapping):
        raise StoreError(f"{field}: {_short(value)} is not a mapping (a JSON object)")
    if value:
        normal_json(value, field)


_Kinds = type[Reason] | type[RunStatus] | type[JobKind]
_VALUES: dict[_Kinds, frozenset[str]] = {
    Reason: frozenset(member.value for member in Reason),
    RunStatus: frozenset(member.value for member in RunStatus),
    JobKind: frozenset(member.value for member in JobKind),
}


def _enum(kind: _Kinds, value: object, field: str) -> None:
    if not isinstance(value, str) or value not in _VALUES[kind]:
        allowed = ", ".join(member.value for member in kind)
        raise StoreError(f"{field}: {value!r} is not one of {allowed}")


# The largest values of the columns (PostgreSQL's integer and bigint; SQLite's 64 bits), so that
# a number too large fails here, named, on every store alike, and not in the database.
_INT32 = 2**31 - 1
_INT64 = 2**63 - 1


def _int(value: object, field: str, minimum: int, maximum: int = _INT64) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise StoreError(f"{field}: {value!r} is not a whole number of at least {minimum}")
    if value > maximum:
        raise StoreError(f"{field}: {value!r} is more than {maximum}, the most the store keeps")


def possible_id(value: object) -> bool:
    """Whether `value` is an id a row can have (a whole number 1 to 2**63-1): reads of any
    other answer 'none' without asking the database, which would fail in its own words."""
    return not isinstance(value, bool) and isinstance(value, int) and 1 <= value <= _INT64


def _number(value: object, field: str) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise StoreError(f"{field}: {value!r} is not a finite number")


def _text(value: object, field: str) -> None:
    # PostgreSQL's text cannot hold NUL (it answers with a DataError, mid-transaction); the
    # other stores could, but then a run recorded on SQLite could not move to PostgreSQL.
    if isinstance(value, str) and "\x00" in value:
        raise StoreError(
            f"{field}: {_short(value)} contains a NUL character (\\x00), which the store "
            "cannot keep in text; remove or replace it"
        )


def _name(value: object, field: str) -> None:
    if not isinstance(value, str) or not value:
        raise StoreError(f"{field}: {_short(value)} is not a name (non-empty text)")
    _text(value, field)


# A runtime job's function: an import path, a colon, and the attribute path within the module.
_TARGET = re.compile(r"[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*:[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*")


def _target(kind: JobKind, value: object, field: str) -> None:
    if value is None:
        if kind is JobKind.RUNTIME:
            raise StoreError(f"{field}: a runtime job needs a target (package.module:function)")
        return
    if not isinstance(value, str) or not _TARGET.fullmatch(value):
        raise StoreError(f"{field}: {_short(value)} is not an import path package.module:function")


def _texts(operation: object, name: str, fields: tuple[str, ...]) -> None:
    for field in fields:
        _text(getattr(operation, field), f"{name}.{field}")


def _new_run(run: NewRun, where: str) -> None:
    if not isinstance(run, NewRun):
        raise StoreError(f"{where}: {_short(run)} is not a NewRun")
    _texts(run, where, ("job", "note"))
    _enum(Reason, run.reason, f"{where}.reason")
    _enum(RunStatus, run.status, f"{where}.status")
    if RunStatus(run.status) not in _NEW_RUN_STATUSES:
        raise StoreError(f"{where}.status: a new run is queued or skipped, not {run.status!r}")
    aware(run.queued_at, f"{where}.queued_at")
    _optional_time(run.fire_time, f"{where}.fire_time")
    _optional_time(run.not_before, f"{where}.not_before")
    _int(run.attempt, f"{where}.attempt", 1, _INT32)
    _json_object(run.args, f"{where}.args")
    if run.retry_of is not None:
        _int(run.retry_of, f"{where}.retry_of", 1)
    _int(run.fire_count, f"{where}.fire_count", 1, _INT32)
    _optional_time(run.last_fire_time, f"{where}.last_fire_time")
    if run.fire_count > 1 and (
        RunStatus(run.status) is not RunStatus.SKIPPED
        or run.fire_time is None
        or run.last_fire_time is None
        or run.last_fire_time < run.fire_time
    ):
        raise StoreError(
            f"{where}.fire_count: a run of {run.fire_count} fire times is skipped, with a "
            "fire_time and a last_fire_time not before it"
        )
    if not isinstance(run.quiet, bool):
        raise StoreError(f"{where}.quiet: {_short(run.quiet)} is not a bool")


def check_operation(operation: Operation, index: int) -> None:
    """Raise a StoreError naming operation `index` and the field if `operation` is malformed."""
    name = f"operation {index} ({type(operation).__name__})"
    if isinstance(operation, Fire):
        _text(operation.job, f"{name}.job")
        _optional_time(operation.expected, f"{name}.expected")
        _optional_time(operation.next_fire_at, f"{name}.next_fire_at")
        for position, run in enumerate(operation.runs):
            _new_run(run, f"{name}.runs[{position}]")
    elif isinstance(operation, Enqueue):
        _new_run(operation.run, f"{name}.run")
        _lease(operation.owner, f"{name}.owner")
    elif isinstance(operation, Claim | Finish | Progress | RequestCancel):
        _int(operation.run_id, f"{name}.run_id", 1)
        _check_run_change(operation, name)
        if isinstance(operation, Finish | Progress):
            _lease(operation.owner, f"{name}.owner")
    elif isinstance(operation, ReapNode):
        _text(operation.node, f"{name}.node")
        _int(operation.generation, f"{name}.generation", 0)
        aware(operation.at, f"{name}.at")
        _text(operation.note, f"{name}.note")
        _optional_time(operation.expired_before, f"{name}.expired_before")
        for job, attempts in operation.attempts.items():
            _text(job, f"{name}.attempts key")
            _int(attempts, f"{name}.attempts[{job!r}]", 0)
    elif isinstance(operation, InterruptRuns):
        aware(operation.at, f"{name}.at")
        if isinstance(operation.nodes, str):
            raise StoreError(
                f"{name}.nodes: give a tuple of node ids, not the text {operation.nodes!r}"
            )
        for position, node in enumerate(operation.nodes):
            _text(node, f"{name}.nodes[{position}]")
        _text(operation.note, f"{name}.note")
    elif isinstance(operation, UpdateJob):
        aware(operation.at, f"{name}.at")
        _texts(operation, name, ("name", "pause_note"))
        if operation.override is not UNSET:
            _json_object(operation.override, f"{name}.override")
        if operation.next_fire_at is not UNSET:
            _optional_time(operation.next_fire_at, f"{name}.next_fire_at")
    elif isinstance(operation, AddJob):
        _name(operation.name, f"{name}.name")
        _enum(JobKind, operation.kind, f"{name}.kind")
        _target(JobKind(operation.kind), operation.target, f"{name}.target")
        _json_object(operation.defaults, f"{name}.defaults")
        aware(operation.at, f"{name}.at")
        _optional_time(operation.next_fire_at, f"{name}.next_fire_at")
    elif isinstance(operation, RemoveJob):
        _text(operation.name, f"{name}.name")
        aware(operation.at, f"{name}.at")
    elif isinstance(operation, Chain):
        _int(operation.run_id, f"{name}.run_id", 1)
        _text(operation.job, f"{name}.job")
        aware(operation.at, f"{name}.at")
        if isinstance(operation.downstream, str):
            raise StoreError(f"{name}.downstream: give a tuple of job names, not a text")
        for position, job in enumerate(operation.downstream):
            _text(job, f"{name}.downstream[{position}]")
    else:
        raise StoreError(f"operation {index}: {_short(operation)} is not a store operation")


def _lease(lease: Lease | None, where: str) -> None:
    if lease is None:
        return
    if not isinstance(lease, Lease):
        raise StoreError(f"{where}: {lease!r} is not a Lease")
    _text(lease.node, f"{where}.node")
    _int(lease.generation, f"{where}.generation", 0)


def _check_run_change(operation: Claim | Finish | Progress | RequestCancel, name: str) -> None:
    if isinstance(operation, Claim):
        _text(operation.node, f"{name}.node")
        aware(operation.at, f"{name}.at")
        if operation.limit is not None:
            _int(operation.limit, f"{name}.limit", 1)
        if operation.generation is not None:
            _int(operation.generation, f"{name}.generation", 0)
    elif isinstance(operation, Finish):
        _enum(RunStatus, operation.status, f"{name}.status")
        if RunStatus(operation.status) not in FINISHED:
            allowed = ", ".join(sorted(FINISHED))
            raise StoreError(f"{name}.status: {operation.status!r} is not one of {allowed}")
        aware(operation.at, f"{name}.at")
        _texts(operation, name, ("note", "error", "traceback", "log", "progress_note"))
        for field in ("progress_done", "progress_total"):
            value = getattr(operation, field)
            if value is not UNSET:
                _number(value, f"{name}.{field}")
    elif isinstance(operation, Progress):
        _number(operation.done, f"{name}.done")
        _number(operation.total, f"{name}.total")
        _texts(operation, name, ("note", "log"))
    else:
        aware(operation.at, f"{name}.at")
        _text(operation.note, f"{name}.note")


def check_sync(
    defaults: Mapping[str, Mapping[str, Any]], at: datetime, internal: object = ()
) -> set[str]:
    """Check `sync_jobs`' arguments; the internal names as a set."""
    aware(at, "sync_jobs.at")
    names = check_names(internal, "sync_jobs.internal")
    for name, value in defaults.items():
        if not isinstance(name, str) or not name:
            raise StoreError(f"sync_jobs: job name {name!r} is not text")
        _text(name, "sync_jobs: job name")
        if not isinstance(value, Mapping):
            raise StoreError(
                f"{sync_field(name)}: {_short(value)} is not a mapping (a JSON object)"
            )
    return names


def sync_field(name: str) -> str:
    """How errors name a job's defaults given to `sync_jobs` (each store encodes them once, and
    says so if they are not JSON)."""
    return f"sync_jobs defaults of {name!r}"


def check_names(names: object, field: str) -> set[str]:
    """A collection of names (job names, node ids) as a set; StoreError naming `field`."""
    if isinstance(names, str) or not isinstance(names, Collection):
        raise StoreError(f"{field}: give a collection of names, not {_short(names)}")
    for name in names:
        if not isinstance(name, str):
            raise StoreError(f"{field}: {_short(name)} is not text")
        _text(name, field)
    return set(names)


def check_node(node: NodeRecord) -> None:
    """Check a node about to be registered."""
    aware(node.started_at, "NodeRecord.started_at")
    aware(node.heartbeat_at, "NodeRecord.heartbeat_at")
    _optional_time(node.stopped_at, "NodeRecord.stopped_at")
    _texts(node, "NodeRecord", ("id", "host"))
    _int(node.pid, "NodeRecord.pid", 0, _INT32)


def check_retentions(retentions: Mapping[str, Retention], now: datetime, batch: int) -> None:
    """Check `prune_runs`'s arguments."""
    if not isinstance(retentions, Mapping):
        raise StoreError(f"prune_runs.retentions: {_short(retentions)} is not a mapping")
    aware(now, "prune.now")
    _int(batch, "prune.batch", 0)
    for name, retention in retentions.items():
        _text(name, "prune_runs job name")
        if not isinstance(retention, Retention):
            raise StoreError(f"prune_runs: {_short(retention)} for {name!r} is not a Retention")
        check_retention(retention, now, batch)


def check_retention(retention: Retention, now: datetime, batch: int) -> None:
    """Check `prune`'s arguments."""
    aware(now, "prune.now")
    _int(batch, "prune.batch", 0)
    _int(retention.keep_last, "Retention.keep_last", 0)
    _int(retention.fast_failures, "Retention.fast_failures", 0)
    for field in ("failed_for", "succeeded_for"):
        value = getattr(retention, field)
        if not isinstance(value, timedelta) or value < timedelta(0):
            raise StoreError(f"Retention.{field}: {value!r} is not a duration of zero or more")


def check_limit(limit: int) -> None:
    """Check a list's `limit`."""
    _int(limit, "limit", 0)


def check_statuses(statuses: Collection[RunStatus] | None) -> list[str] | None:
    """`statuses` as text, checked (None means any)."""
    return _members(RunStatus, statuses, "statuses")


def _members(kind: type[Reason] | type[RunStatus], values: object, field: str) -> list[str] | None:
    if values is None:
        return None
    if isinstance(values, str) or not isinstance(values, Collection):
        raise StoreError(f"{field}: give a collection of {field}, not {_short(values)}")
    for value in values:
        _enum(kind, value, field)
    return sorted({str(value) for value in values})


@dataclass(frozen=True)
class RunFilter:
    """Which runs `list_runs` and `count_runs` look at, checked: statuses and reasons as text
    (None: any), times aware, `before_id` within the ids a run can have."""

    job: str | None
    statuses: list[str] | None
    reasons: list[str] | None
    since: datetime | None
    until: datetime | None
    before_id: int | None
    parent_run_id: int | None = None

    @property
    def empty(self) -> bool:
        """Whether no run can match (no status or reason allowed, an empty time range)."""
        return (
            self.statuses == []
            or self.reasons == []
            or (self.since is not None and self.until is not None and self.since >= self.until)
        )


def check_run_filter(
    job: object,
    statuses: object,
    reasons: object,
    since: object,
    until: object,
    before_id: object,
    parent_run_id: object = None,
) -> RunFilter:
    """The filters of a run listing, checked alike on every store; StoreError naming a field."""
    if job is not None:
        if not isinstance(job, str):
            raise StoreError(f"job: {_short(job)} is not a job name (text)")
        _text(job, "job")
    if before_id is not None:
        _int(before_id, "before_id", 0)
    if parent_run_id is not None:
        _int(parent_run_id, "parent_run_id", 1)
    for value, field in ((since, "since"), (until, "until")):
        _optional_time(value, field)
    return RunFilter(
        job,
        _members(RunStatus, statuses, "statuses"),
        _members(Reason, reasons, "reasons"),
        since,  # type: ignore[arg-type]
        until,  # type: ignore[arg-type]
        before_id,  # type: ignore[arg-type]
        parent_run_id,  # type: ignore[arg-type]
    )


def check_events_after(after_id: object, limit: object, exclude_origin: object) -> None:
    """Check `events_after`'s arguments."""
    _int(after_id, "after_id", 0)
    _int(limit, "limit", 0)
    if exclude_origin is not None and not isinstance(exclude_origin, str):
        raise StoreError(f"exclude_origin: {_short(exclude_origin)} is not text")
    _text(exclude_origin, "exclude_origin")


def check_prune_events(before: object, keep: object, batch: object) -> None:
    """Check `prune_events`' arguments."""
    aware(before, "prune_events.before")
    _int(keep, "prune_events.keep", 0)
    _int(batch, "prune_events.batch", 0)


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
