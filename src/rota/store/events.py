"""Events: what each committed operation announces, the same on every store (decision 0006).

`events_of` derives a transaction's events from its operations, their results and a few facts
the store read about the runs they touched (an operation such as `Claim` names only a run id,
and the engine's call sites stay as they are), so nothing is announced that did not commit and
nothing committed goes unannounced. `notices_of_events` turns events written by another process
into the notices `Store.listen` delivers.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from rota.store.operations import (
    UNSET,
    AddJob,
    Chain,
    Chained,
    Claim,
    Enqueue,
    Finish,
    Fire,
    FireResult,
    InterruptRuns,
    NewRun,
    Operation,
    Progress,
    Reaped,
    ReapNode,
    Removal,
    RemoveJob,
    RequestCancel,
    UpdateJob,
)
from rota.store.records import EventKind, EventRecord, JobRecord, Reason, RunStatus

__all__ = [
    "NewEvent",
    "RunFacts",
    "StreakFacts",
    "event_rows",
    "events_of",
    "notices_of_events",
    "sync_events",
]


@dataclass(frozen=True)
class RunFacts:
    """What an event says of a run that the operation does not: as it is after the operation."""

    job: str
    reason: Reason
    attempt: int
    note: str | None
    error: str | None


@dataclass(frozen=True)
class StreakFacts:
    """A skipped run that a `Fire` continued (`NewRun.streak_of`), as it is after the Fire."""

    fire_count: int
    last_fire_time: datetime | None


@dataclass(frozen=True)
class NewEvent:
    """An event to write; the store gives it an id and its origin."""

    at: datetime
    kind: EventKind
    job: str | None
    run_id: int | None
    data: dict[str, Any]


_FINISHED_KIND = {
    RunStatus.SUCCEEDED: EventKind.RUN_FINISHED,
    RunStatus.FAILED: EventKind.RUN_FINISHED,
    RunStatus.TIMED_OUT: EventKind.RUN_FINISHED,
    RunStatus.SKIPPED: EventKind.RUN_SKIPPED,
    RunStatus.CANCELLED: EventKind.RUN_CANCELLED,
    RunStatus.INTERRUPTED: EventKind.RUN_INTERRUPTED,
}


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).isoformat()


def _float(value: float | None) -> float | None:
    # As the run's column keeps it, so that an event says what the run says.
    return None if value is None else float(value)


def _created(run: NewRun, run_id: int) -> NewEvent:
    at = run.queued_at.astimezone(UTC)
    if RunStatus(run.status) is RunStatus.SKIPPED:
        data: dict[str, Any] = {"reason": Reason(run.reason).value, "note": run.note}
        if run.fire_count > 1:  # a streak begun with several fire times at once
            data["count"] = run.fire_count
            data["last_fire_time"] = _iso(run.last_fire_time)
        return NewEvent(at, EventKind.RUN_SKIPPED, run.job, run_id, data)
    data = {
        "reason": Reason(run.reason).value,
        "attempt": run.attempt,
        "fire_time": _iso(run.fire_time),
        "not_before": _iso(run.not_before),
    }
    return NewEvent(at, EventKind.RUN_QUEUED, run.job, run_id, data)


def _continued(run: NewRun, run_id: int, streak: StreakFacts) -> NewEvent:
    """A skipped fire time that continued the streak of run `run_id`: the run changed."""
    data: dict[str, Any] = {
        "reason": Reason(run.reason).value,
        "note": run.note,
        "count": streak.fire_count,
        "last_fire_time": _iso(streak.last_fire_time),
    }
    return NewEvent(run.queued_at.astimezone(UTC), EventKind.RUN_SKIPPED, run.job, run_id, data)


def _finished(finish: Finish, facts: RunFacts) -> NewEvent:
    status = RunStatus(finish.status)
    kind = _FINISHED_KIND[status]
    data: dict[str, Any]
    if kind is EventKind.RUN_FINISHED:
        data = {"status": status.value, "note": facts.note, "error": facts.error}
    elif kind is EventKind.RUN_SKIPPED:
        data = {"reason": facts.reason.value, "note": facts.note}
    else:
        data = {"note": facts.note}
    return NewEvent(finish.at.astimezone(UTC), kind, facts.job, finish.run_id, data)


def _job_changed(change: UpdateJob) -> NewEvent:
    at = change.at.astimezone(UTC)
    if not isinstance(change.paused, bool):  # UNSET: settings or the next fire time changed
        given = ("override", "pause_note", "next_fire_at")
        fields = [name for name in given if getattr(change, name) is not UNSET]
        return NewEvent(at, EventKind.JOB_CHANGED, change.name, None, {"fields": fields})
    kind = EventKind.JOB_PAUSED if change.paused else EventKind.JOB_RESUMED
    note = None if change.pause_note is UNSET else change.pause_note
    return NewEvent(at, kind, change.name, None, {"note": note})


def events_of(
    operations: Sequence[Operation], results: Sequence[Any], facts: Sequence[Any]
) -> list[NewEvent]:
    """The events of committed operations, in order: exactly one per state change.

    `facts` has one entry per operation, as the store read it right after that operation:
    a `RunFacts` (or None) for `Claim`, `Finish`, `Progress` and `RequestCancel`; a mapping of
    run id to `RunFacts` for `InterruptRuns` and `ReapNode`; the number of runs deleted for
    `RemoveJob`; for a `Fire`, a mapping of the positions of the runs that continued a streak
    to `StreakFacts` (or None); None for the others.
    """
    events: list[NewEvent] = []
    for operation, result, fact in zip(operations, results, facts, strict=True):
        if isinstance(operation, Fire):
            fired: FireResult = result
            streaks: dict[int, StreakFacts] = fact or {}
            for position, (run, run_id) in enumerate(
                zip(operation.runs, fired.run_ids, strict=True)
            ):
                if position in streaks and run_id is not None:
                    if not run.quiet:
                        events.append(_continued(run, run_id, streaks[position]))
                elif run_id is not None:
                    events.append(_created(run, run_id))
        elif isinstance(operation, Enqueue):
            if isinstance(result, int):
                events.append(_created(operation.run, result))
        elif isinstance(operation, Claim):
            if result:
                data = {"node": operation.node, "attempt": fact.attempt}
                at = operation.at.astimezone(UTC)
                events.append(NewEvent(at, EventKind.RUN_STARTED, fact.job, operation.run_id, data))
        elif isinstance(operation, Finish):
            if result:
                events.append(_finished(operation, fact))
        elif isinstance(operation, Progress):
            if result:
                data = {
                    "done": _float(operation.done),
                    "total": _float(operation.total),
                    "note": operation.note,
                }
                # A progress write carries no instant of its own: it happened now.
                now = datetime.now(UTC)
                events.append(
                    NewEvent(now, EventKind.RUN_PROGRESS, fact.job, operation.run_id, data)
                )
        elif isinstance(operation, RequestCancel):
            if result in (RunStatus.QUEUED, RunStatus.RUNNING):
                kind = (
                    EventKind.RUN_CANCELLED
                    if result is RunStatus.QUEUED
                    else EventKind.RUN_CANCELLING
                )
                at = operation.at.astimezone(UTC)
                data = {"note": operation.note}
                events.append(NewEvent(at, kind, fact.job, operation.run_id, data))
        elif isinstance(operation, InterruptRuns):
            at = operation.at.astimezone(UTC)
            for run_id in result:
                job = fact[run_id].job
                data = {"note": operation.note}
                events.append(NewEvent(at, EventKind.RUN_INTERRUPTED, job, run_id, data))
        elif isinstance(operation, ReapNode):
            reaped: Reaped = result
            at = operation.at.astimezone(UTC)
            for run_id in reaped.interrupted:
                data = {"note": operation.note}
                events.append(
                    NewEvent(at, EventKind.RUN_INTERRUPTED, fact[run_id].job, run_id, data)
                )
            events.extend(_created(run, run_id) for run_id, run in reaped.retries)
        elif isinstance(operation, Chain):
            chained: Chained = result
            for run_id, run, upstream_runs in chained.runs:
                event = _created(run, run_id)
                event.data["upstream_runs"] = dict(upstream_runs)
                events.append(event)
        elif isinstance(operation, UpdateJob):
            if result is not None:
                events.append(_job_changed(operation))
        elif isinstance(operation, AddJob):
            if result is not None:
                at = operation.at.astimezone(UTC)
                data = {"kind": result.kind.value}
                events.append(NewEvent(at, EventKind.JOB_ADDED, operation.name, None, data))
        elif isinstance(operation, RemoveJob) and result is Removal.REMOVED:
            at = operation.at.astimezone(UTC)
            data = {"runs": fact}
            events.append(NewEvent(at, EventKind.JOB_REMOVED, operation.name, None, data))
    return events


def sync_events(
    added: Iterable[JobRecord], replaced: Iterable[str], at: datetime
) -> list[NewEvent]:
    """The events of `Store.sync_jobs`: `job.added` per new row, then `job.changed` per job
    whose defaults it replaced, each by name."""
    at = at.astimezone(UTC)
    # By name: the stores meet the rows in different orders (the code's, the table's).
    events = [
        NewEvent(at, EventKind.JOB_ADDED, job.name, None, {"kind": job.kind.value})
        for job in sorted(added, key=lambda job: job.name)
    ]
    events.extend(
        NewEvent(at, EventKind.JOB_CHANGED, name, None, {"fields": ["defaults"]})
        for name in sorted(replaced)
    )
    return events


def notices_of_events(events: Sequence[EventRecord]) -> list[str]:
    """The notices (`Store.listen`) that events another process wrote stand for: ``job:NAME``
    for a job's, ``run:ID`` for a run queued, ``cancel:ID:NOTE`` for a cancel asked of a
    running run, and one ``events:LASTID``."""
    notices: list[str] = []
    for event in events:
        if event.kind.startswith("job.") and event.job is not None:
            notices.append(f"job:{event.job}")
        elif event.kind is EventKind.RUN_QUEUED:
            notices.append(f"run:{event.run_id}")
        elif event.kind is EventKind.RUN_CANCELLING:
            notices.append(f"cancel:{event.run_id}:{event.data.get('note') or ''}")
    if events:
        notices.append(f"events:{events[-1].id}")
    return notices


def event_rows(events: Sequence[NewEvent], origin: str) -> list[Mapping[str, Any]]:
    """The events table's column values of `events`, written by `origin`."""
    return [
        {
            "at": event.at,
            "kind": event.kind.value,
            "job": event.job,
            "run_id": event.run_id,
            "data": event.data,
            "origin": origin,
        }
        for event in events
    ]
