"""`MemoryStore`'s operations: what `apply` does to the dictionaries, one method per kind.

Every change goes through `_put` or `_delete`, which note the old value in the undo log while
`apply` runs, so that a failed transaction is put back exactly. After each operation, `_facts`
notes what its events need to know of the runs it touched (see `rota.store.events`).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, Final

from rota.errors import UnknownJobError
from rota.store import checks
from rota.store.chains import EdgeState, chain_step
from rota.store.events import NewEvent, RunFacts, StreakFacts
from rota.store.operations import (
    LEASE_LOST,
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
    Lease,
    LeaseLost,
    NewRun,
    Operation,
    Progress,
    Reaped,
    ReapNode,
    Removal,
    RemoveJob,
    RequestCancel,
    UpdateJob,
    reaped_retry,
    retried_by_reap,
)
from rota.store.records import (
    ACTIVE,
    EventRecord,
    JobKind,
    JobRecord,
    NodeRecord,
    Reason,
    RunRecord,
    RunStatus,
)

__all__ = ["MISSING", "MemoryOperations", "RunKey", "copy_json", "job_out", "run_out", "utc"]

RunKey = tuple[str, datetime, str, int]
MISSING: Final = object()
"""The undo log's mark of a key that had no value."""


def utc(value: datetime | None) -> datetime | None:
    return None if value is None else value.astimezone(UTC)


def _float(value: float | None) -> float | None:
    return None if value is None else float(value)


def copy_json(value: Any) -> Any:
    """A deep copy of a JSON value, so no caller shares the store's own objects."""
    if isinstance(value, dict):
        return {key: copy_json(item) for key, item in value.items()}
    if isinstance(value, list):
        return [copy_json(item) for item in value]
    return value


def job_out(job: JobRecord) -> JobRecord:
    return replace(job, defaults=copy_json(job.defaults), override=copy_json(job.override))


def run_out(run: RunRecord) -> RunRecord:
    return replace(run, args=copy_json(run.args))


class MemoryOperations:
    """The operations of `MemoryStore.apply` on its tables (a mixin: the store holds them)."""

    _jobs: dict[str, JobRecord]
    _runs: dict[int, RunRecord]  # in id order
    _keys: dict[RunKey, int]
    _spawn_keys: dict[tuple[str, str], int]  # (job, spawn key): the run that last had it
    _retries: dict[int, int]
    _edges: dict[tuple[str, str], EdgeState]  # (downstream, upstream): decision 0011
    _succeeded: set[int]  # runs a Finish recorded succeeded in the current apply
    _nodes: dict[str, NodeRecord]
    _events: dict[int, EventRecord]
    _last_id: int
    _last_event: int
    _removed_runs: int
    _undo: list[tuple[dict[Any, Any], Any, Any]] | None
    _origin: str

    def _put(self, table: dict[Any, Any], key: Any, value: Any) -> None:
        if self._undo is not None:
            self._undo.append((table, key, table.get(key, MISSING)))
        table[key] = value

    def _delete(self, table: dict[Any, Any], key: Any) -> None:
        if self._undo is not None:
            self._undo.append((table, key, table[key]))
        del table[key]

    def _facts(self, operation: Operation, result: Any) -> Any:
        """What `events_of` needs to know of the runs `operation` touched, after it."""
        if isinstance(operation, Claim | Finish | Progress):
            return self._run_facts(operation.run_id) if result else None
        if isinstance(operation, RequestCancel):
            return None if result is None else self._run_facts(operation.run_id)
        if isinstance(operation, InterruptRuns):
            return {run_id: self._run_facts(run_id) for run_id in result}
        if isinstance(operation, ReapNode):
            return {run_id: self._run_facts(run_id) for run_id in result.interrupted}
        if isinstance(operation, RemoveJob):
            return self._removed_runs
        if isinstance(operation, Fire) and result.advanced:
            return self._streak_facts(operation, result)
        return None

    def _streak_facts(self, fire: Fire, result: FireResult) -> dict[int, StreakFacts]:
        """The streaks `fire` continued, by position in its runs (see `events_of`)."""
        facts: dict[int, StreakFacts] = {}
        for position, (new, run_id) in enumerate(zip(fire.runs, result.run_ids, strict=True)):
            if new.streak_of is not None and run_id == new.streak_of:
                run = self._runs[run_id]
                facts[position] = StreakFacts(run.fire_count, run.last_fire_time)
        return facts

    def _run_facts(self, run_id: int) -> RunFacts:
        run = self._runs[run_id]
        return RunFacts(run.job, run.reason, run.attempt, run.note, run.error)

    def _write_events(self, events: list[NewEvent]) -> int | None:
        """Add `events`; the id of the last, or None if there were none."""
        for event in events:
            self._last_event += 1
            record = EventRecord(
                self._last_event,
                event.at,
                event.kind,
                event.job,
                event.run_id,
                checks.normal_json(event.data, "event data"),
                self._origin,
            )
            self._put(self._events, record.id, record)
        return self._last_event if events else None

    def _apply(self, operation: Operation) -> Any:
        if isinstance(operation, Fire):
            return self._fire(operation)
        if isinstance(operation, Enqueue):
            if operation.owner is not None and not self._holds(operation.owner):
                return LEASE_LOST
            return self._insert(operation.run)
        if isinstance(operation, Claim):
            return self._claim(operation)
        if isinstance(operation, Finish):
            return self._finish(operation)
        if isinstance(operation, Progress):
            return self._progress(operation)
        if isinstance(operation, RequestCancel):
            return self._request_cancel(operation)
        if isinstance(operation, InterruptRuns):
            return self._interrupt(operation)
        if isinstance(operation, ReapNode):
            return self._reap(operation)
        if isinstance(operation, AddJob):
            return self._add_job(operation)
        if isinstance(operation, RemoveJob):
            return self._remove_job(operation)
        if isinstance(operation, Chain):
            return self._chain(operation)
        return self._update_job(operation)

    def _fire(self, fire: Fire) -> FireResult:
        job = self._jobs.get(fire.job)
        if job is None or job.next_fire_at != fire.expected:
            return FireResult(False, (None,) * len(fire.runs))
        self._put(self._jobs, fire.job, replace(job, next_fire_at=utc(fire.next_fire_at)))
        return FireResult(True, tuple(self._insert(run) for run in fire.runs))

    def _insert(self, new: NewRun) -> int | None:
        if new.job not in self._jobs:
            raise UnknownJobError(new.job)
        if new.streak_of is not None and RunStatus(new.status) is RunStatus.SKIPPED:
            streak = self._runs.get(new.streak_of)
            if streak is not None and streak.job == new.job and streak.status is RunStatus.SKIPPED:
                continued = replace(
                    streak,
                    fire_count=streak.fire_count + new.fire_count,
                    last_fire_time=utc(new.latest_fire_time),
                    note=new.note,
                    finished_at=new.queued_at.astimezone(UTC),
                )
                self._put(self._runs, streak.id, continued)
                return streak.id
        # As SQLite's AUTOINCREMENT and PostgreSQL's sequences: taken before the key is checked.
        self._last_id += 1
        reason, status = Reason(new.reason), RunStatus(new.status)
        fire_time = utc(new.fire_time)
        key: RunKey | None = None
        if fire_time is not None:
            key = (new.job, fire_time, reason.value, new.attempt)
            if key in self._keys:
                return None
        if new.retry_of is not None and new.retry_of in self._retries:
            return None
        spawn_key = None if new.spawn_key is None else (new.job, new.spawn_key)
        if spawn_key is not None:
            holder = self._runs.get(self._spawn_keys.get(spawn_key, 0))
            if holder is not None and holder.status in ACTIVE:
                return None
        run = RunRecord(
            id=self._last_id,
            job=new.job,
            reason=reason,
            status=status,
            fire_time=fire_time,
            queued_at=new.queued_at.astimezone(UTC),
            not_before=utc(new.not_before),
            started_at=None,
            finished_at=new.queued_at.astimezone(UTC) if status is RunStatus.SKIPPED else None,
            attempt=new.attempt,
            args=checks.normal_json(new.args, "args"),
            node=None,
            progress_done=None,
            progress_total=None,
            progress_note=None,
            note=new.note,
            error=None,
            traceback=None,
            log="",
            retry_of=new.retry_of,
            cancel_requested=False,
            fire_count=new.fire_count,
            last_fire_time=utc(new.last_fire_time) if new.fire_count > 1 else None,
            parent_run_id=new.parent_run_id,
            spawn_key=new.spawn_key,
            upstream_runs=dict(new.upstream_runs),
        )
        self._put(self._runs, run.id, run)
        if spawn_key is not None:
            self._put(self._spawn_keys, spawn_key, run.id)
        if key is not None:
            self._put(self._keys, key, run.id)
        if new.retry_of is not None:
            self._put(self._retries, new.retry_of, run.id)
        return run.id

    def _holds(self, lease: Lease) -> bool:
        """Whether `lease` is its node's current one."""
        node = self._nodes.get(lease.node)
        return node is not None and node.stopped_at is None and node.generation == lease.generation

    def _owned(self, run: RunRecord | None, owner: Lease | None) -> bool | LeaseLost | None:
        """For a write with `owner`: None if the run runs under it (go on), else the result."""
        if owner is None:
            return None
        if (
            run is not None
            and run.status is RunStatus.RUNNING
            and (run.node, run.generation) == (owner.node, owner.generation)
        ):
            return None
        return False if self._holds(owner) else LEASE_LOST

    def _claim(self, claim: Claim) -> bool | LeaseLost:
        if claim.generation is not None and not self._holds(Lease(claim.node, claim.generation)):
            return LEASE_LOST
        run = self._runs.get(claim.run_id)
        if run is None or run.status is not RunStatus.QUEUED:
            return False
        if claim.limit is not None:
            running = sum(
                r.job == run.job and r.status is RunStatus.RUNNING for r in self._runs.values()
            )
            if running >= claim.limit:
                return False
        started = replace(
            run,
            status=RunStatus.RUNNING,
            node=claim.node,
            started_at=claim.at.astimezone(UTC),
            generation=claim.generation,
        )
        self._put(self._runs, run.id, started)
        return True

    def _finish(self, finish: Finish) -> bool | LeaseLost:
        run = self._runs.get(finish.run_id)
        refused = self._owned(run, finish.owner)
        if refused is not None:
            return refused
        if run is None or run.status not in ACTIVE:
            return False
        changes: dict[str, Any] = {
            "status": RunStatus(finish.status),
            "finished_at": finish.at.astimezone(UTC),
        }
        for field in ("note", "error", "traceback", "log", "progress_note"):
            value = getattr(finish, field)
            if value is not UNSET:
                changes[field] = value
        for field in ("progress_done", "progress_total"):
            value = getattr(finish, field)
            if value is not UNSET:
                changes[field] = _float(value)
        self._put(self._runs, run.id, replace(run, **changes))
        if RunStatus(finish.status) is RunStatus.SUCCEEDED:
            self._succeeded.add(run.id)
        return True

    def _progress(self, progress: Progress) -> bool | LeaseLost:
        run = self._runs.get(progress.run_id)
        refused = self._owned(run, progress.owner)
        if refused is not None:
            return refused
        if run is None or run.status is not RunStatus.RUNNING:
            return False
        changed = replace(
            run,
            progress_done=_float(progress.done),
            progress_total=_float(progress.total),
            progress_note=progress.note,
            log=run.log if progress.log is UNSET else progress.log,
        )
        self._put(self._runs, run.id, changed)
        return True

    def _request_cancel(self, cancel: RequestCancel) -> RunStatus | None:
        run = self._runs.get(cancel.run_id)
        if run is None:
            return None
        if run.status is RunStatus.QUEUED:
            cancelled = replace(
                run,
                status=RunStatus.CANCELLED,
                finished_at=cancel.at.astimezone(UTC),
                note=cancel.note,
            )
            self._put(self._runs, run.id, cancelled)
        elif run.status is RunStatus.RUNNING:
            self._put(self._runs, run.id, replace(run, cancel_requested=True, note=cancel.note))
        return run.status

    def _interrupt(self, interrupt: InterruptRuns) -> list[int]:
        nodes = set(interrupt.nodes)
        changed: list[int] = []
        for run in list(self._runs.values()):
            if run.status is RunStatus.RUNNING and run.node in nodes:
                interrupted = replace(
                    run,
                    status=RunStatus.INTERRUPTED,
                    finished_at=interrupt.at.astimezone(UTC),
                    note=interrupt.note,
                )
                self._put(self._runs, run.id, interrupted)
                changed.append(run.id)
        return changed

    def _reap(self, reap: ReapNode) -> Reaped:
        node = self._nodes.get(reap.node)
        if node is None or not self._holds(Lease(reap.node, reap.generation)):
            return Reaped()
        if reap.expired_before is not None and node.heartbeat_at >= reap.expired_before:
            return Reaped()  # it renewed its lease since it was found dead
        at = reap.at.astimezone(UTC)
        self._put(self._nodes, node.id, replace(node, stopped_at=at))
        interrupted = self._interrupt(InterruptRuns((reap.node,), reap.at, reap.note))
        retries: list[tuple[int, NewRun]] = []
        for run_id in interrupted:
            run = self._runs[run_id]
            if retried_by_reap(run, reap.attempts.get(run.job, 1), self._runs.get):
                new = reaped_retry(run, reap.at)
                retry_id = self._insert(new)
                if retry_id is not None:
                    retries.append((retry_id, new))
        return Reaped(tuple(interrupted), tuple(retries))

    def _update_job(self, change: UpdateJob) -> JobRecord | None:
        job = self._jobs.get(change.name)
        if job is None:
            return None
        changes: dict[str, Any] = {"updated_at": change.at.astimezone(UTC)}
        if change.override is not UNSET:
            changes["override"] = checks.normal_json(change.override, "override")
        if change.paused is not UNSET:
            changes["paused"] = bool(change.paused)
        if change.pause_note is not UNSET:
            changes["pause_note"] = change.pause_note
        if change.next_fire_at is not UNSET:
            changes["next_fire_at"] = utc(change.next_fire_at)
        updated = replace(job, **changes)
        self._put(self._jobs, job.name, updated)
        return job_out(updated)

    def _add_job(self, add: AddJob) -> JobRecord | None:
        if add.name in self._jobs:
            return None
        at = add.at.astimezone(UTC)
        job = JobRecord(
            name=add.name,
            defaults=checks.normal_json(add.defaults, "defaults"),
            override={},
            paused=False,
            pause_note=None,
            kind=JobKind(add.kind),
            target=add.target,
            next_fire_at=utc(add.next_fire_at),
            created_at=at,
            updated_at=at,
        )
        self._put(self._jobs, job.name, job)
        return job_out(job)

    def _remove_job(self, remove: RemoveJob) -> Removal:
        if remove.name not in self._jobs:
            return Removal.UNKNOWN
        doomed = [run for run in self._runs.values() if run.job == remove.name]
        if any(run.status is RunStatus.RUNNING for run in doomed):
            return Removal.RUNNING
        for run in doomed:
            self._delete(self._runs, run.id)
            if run.fire_time is not None:
                key = (run.job, run.fire_time, run.reason.value, run.attempt)
                if self._keys.get(key) == run.id:
                    self._delete(self._keys, key)
            if run.retry_of is not None and self._retries.get(run.retry_of) == run.id:
                self._delete(self._retries, run.retry_of)
        for edge in [edge for edge in self._edges if remove.name in edge]:
            self._delete(self._edges, edge)
        self._delete(self._jobs, remove.name)
        self._removed_runs = len(doomed)
        return Removal.REMOVED

    def _chain(self, chain: Chain) -> Chained:
        upstream = self._runs.get(chain.run_id)
        if chain.run_id not in self._succeeded or upstream is None or upstream.job != chain.job:
            return Chained()
        created: list[tuple[int, NewRun, dict[str, int]]] = []
        replaces: list[int] = []
        for name in chain.downstream:
            job = self._jobs.get(name)
            if job is None:
                continue
            edges = {up: state for (down, up), state in self._edges.items() if down == name}
            active = [
                (r.id, r.status)
                for r in self._runs.values()
                if r.job == name and r.status in ACTIVE
            ]
            row = (job.defaults, job.override, job.paused)
            step = chain_step(name, row, edges, chain.job, chain.run_id, chain.at, active)
            if step is None:
                continue
            for up, state in step.edges.items():
                self._put(self._edges, (name, up), state)
            if step.run is not None:
                run_id = self._insert(step.run)
                if run_id is not None:
                    created.append((run_id, step.run, step.upstream_runs))
                    replaces.extend(step.replaces)
        return Chained(tuple(created), tuple(replaces))
