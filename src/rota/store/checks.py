"""Input checks both stores run before they write, so both fail the same way with the same words.

The database would catch some of these too, but late and in its own terms (a naive datetime loses
its meaning silently on SQLite; a bad status is just text). Checking up front also means an
`apply` that fails on input writes nothing and names the operation and field at fault.
"""

from __future__ import annotations

import json
import math
from collections.abc import Collection, Mapping
from datetime import datetime, timedelta
from typing import Any

from rota.errors import StoreError
from rota.store.abc import (
    UNSET,
    Claim,
    Enqueue,
    Finish,
    Fire,
    InterruptRuns,
    NewRun,
    Operation,
    Progress,
    RequestCancel,
    UpdateJob,
)
from rota.store.records import FINISHED, NodeRecord, Reason, Retention, RunStatus

__all__ = [
    "SUPPORTED_URLS",
    "aware",
    "check_limit",
    "check_node",
    "check_operation",
    "check_retention",
    "check_statuses",
    "check_sync",
    "encode_json",
    "normal_json",
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


_VALUES: dict[type[Reason] | type[RunStatus], frozenset[str]] = {
    Reason: frozenset(member.value for member in Reason),
    RunStatus: frozenset(member.value for member in RunStatus),
}


def _enum(kind: type[Reason] | type[RunStatus], value: object, field: str) -> None:
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
    elif isinstance(operation, Claim):
        _text(operation.node, f"{name}.node")
        aware(operation.at, f"{name}.at")
        if operation.limit is not None:
            _int(operation.limit, f"{name}.limit", 1)
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
    elif isinstance(operation, RequestCancel):
        aware(operation.at, f"{name}.at")
        _text(operation.note, f"{name}.note")
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
    else:
        raise StoreError(f"operation {index}: {_short(operation)} is not a store operation")


def check_sync(defaults: Mapping[str, Mapping[str, Any]], at: datetime) -> None:
    """Check `sync_jobs`' arguments."""
    aware(at, "sync_jobs.at")
    for name, value in defaults.items():
        if not isinstance(name, str) or not name:
            raise StoreError(f"sync_jobs: job name {name!r} is not text")
        _text(name, "sync_jobs: job name")
        if not isinstance(value, Mapping):
            raise StoreError(
                f"{sync_field(name)}: {_short(value)} is not a mapping (a JSON object)"
            )


def sync_field(name: str) -> str:
    """How errors name a job's defaults given to `sync_jobs` (each store encodes them once, and
    says so if they are not JSON)."""
    return f"sync_jobs defaults of {name!r}"


def check_node(node: NodeRecord) -> None:
    """Check a node about to be registered."""
    aware(node.started_at, "NodeRecord.started_at")
    aware(node.heartbeat_at, "NodeRecord.heartbeat_at")
    _optional_time(node.stopped_at, "NodeRecord.stopped_at")
    _texts(node, "NodeRecord", ("id", "host"))
    _int(node.pid, "NodeRecord.pid", 0, _INT32)


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
    if statuses is None:
        return None
    if isinstance(statuses, str):
        raise StoreError(f"statuses: give a collection of statuses, not the text {statuses!r}")
    for status in statuses:
        _enum(RunStatus, status, "statuses")
    return sorted({RunStatus(status).value for status in statuses})


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
