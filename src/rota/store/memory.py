"""`MemoryStore`: the store in plain Python, for fast tests; the reference SqlStore is held to.

It keeps what SQL would keep (times in UTC, JSON as JSON gives it back, progress as floats) and
numbers runs as SQLite and PostgreSQL do: an insert skipped by the unique key still uses up an
id. `apply` is all-or-nothing through an undo log of every change it made.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, ClassVar, Final

from rota.errors import StoreError, UnknownJobError
from rota.store import checks
from rota.store.abc import (
    UNSET,
    Claim,
    Enqueue,
    Finish,
    Fire,
    FireResult,
    InterruptRuns,
    NewRun,
    Operation,
    Progress,
    RequestCancel,
    Store,
    SyncResult,
    UpdateJob,
    notices_of,
)
from rota.store.records import (
    ACTIVE,
    FAILURE_LIKE,
    JobRecord,
    NodeRecord,
    Reason,
    Retention,
    RunRecord,
    RunStatus,
)

__all__ = ["MemoryStore"]

RunKey = tuple[str, datetime, str, int]
_MISSING: Final = object()


def _utc(value: datetime | None) -> datetime | None:
    return None if value is None else value.astimezone(UTC)


def _float(value: float | None) -> float | None:
    return None if value is None else float(value)


def _copy(value: Any) -> Any:
    """A deep copy of a JSON value, so no caller shares the store's own objects."""
    if isinstance(value, dict):
        return {key: _copy(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_copy(item) for item in value]
    return value


def _job_out(job: JobRecord) -> JobRecord:
    return replace(job, defaults=_copy(job.defaults), override=_copy(job.override))


def _run_out(run: RunRecord) -> RunRecord:
    return replace(run, args=_copy(run.args))


class MemoryStore(Store):
    """Jobs, runs and nodes in dictionaries, behind one lock (thread-safe). Closing keeps the
    data: the object is the database, and opening it again finds everything there."""

    _named: ClassVar[dict[str, MemoryStore]] = {}
    _named_lock: ClassVar[threading.Lock] = threading.Lock()

    @classmethod
    def named(cls, name: str) -> MemoryStore:
        """The process-wide store called `name`, made on first use (``memory://NAME``): what
        several Rotas in one process share, as they would share a database file. It lives as
        long as the process."""
        with cls._named_lock:
            store = cls._named.get(name)
            if store is None:
                store = cls._named[name] = cls()
                store._name = name
            return store

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._name = ""
        self._opens = 0  # how many users opened it and have not closed it
        self._jobs: dict[str, JobRecord] = {}
        # In id order, as ids only grow and a failed apply removes its runs again.
        self._runs: dict[int, RunRecord] = {}
        self._keys: dict[RunKey, int] = {}
        self._nodes: dict[str, NodeRecord] = {}
        self._last_id = 0
        self._undo: list[tuple[dict[Any, Any], Any, Any]] | None = None
        self._listeners: list[Callable[[str], None]] = []

    def __repr__(self) -> str:
        return f"MemoryStore.named({self._name!r})" if self._name else "MemoryStore()"

    def open(self) -> None:
        """Nothing to connect to; marks the store usable."""
        with self._lock:
            self._opens += 1

    def close(self) -> None:
        """Marks the store unusable once every `open` was closed (a named store has several
        users, as a file does); the data stays."""
        with self._lock:
            self._opens = max(0, self._opens - 1)

    @contextmanager
    def _using(self) -> Iterator[None]:
        with self._lock:
            if not self._opens:
                raise StoreError(f"store 'memory://{self._name}' is not open: call open() first")
            yield

    def _put(self, table: dict[Any, Any], key: Any, value: Any) -> None:
        if self._undo is not None:
            self._undo.append((table, key, table.get(key, _MISSING)))
        table[key] = value

    # -- writes -----------------------------------------------------------------------------

    def apply(self, operations: Sequence[Operation]) -> list[Any]:
        """Apply the operations in order, all or nothing; one result per operation."""
        for index, operation in enumerate(operations):
            checks.check_operation(operation, index)
        with self._using():
            undo: list[tuple[dict[Any, Any], Any, Any]] = []
            last_id, self._undo = self._last_id, undo
            try:
                results = [self._apply(operation) for operation in operations]
            except BaseException:
                for table, key, old in reversed(undo):
                    if old is _MISSING:
                        del table[key]
                    else:
                        table[key] = old
                self._last_id = last_id
                raise
            finally:
                self._undo = None
            listeners = list(self._listeners)
        # Committed: tell whoever listens (Rotas sharing this store by name), outside the lock.
        for notice in notices_of(operations, results):
            for listener in listeners:
                listener(notice)
        return results

    def listen(self, callback: Callable[[str], None]) -> Callable[[], None]:
        """Call `callback` with the notices of every committed change (see `Store.listen`):
        the Rotas of one process that share this store by name hear each other."""
        with self._using():
            self._listeners.append(callback)

        def stop() -> None:
            with self._using():
                if callback in self._listeners:
                    self._listeners.remove(callback)

        return stop

    def _apply(self, operation: Operation) -> Any:
        if isinstance(operation, Fire):
            return self._fire(operation)
        if isinstance(operation, Enqueue):
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
        return self._update_job(operation)

    def _fire(self, fire: Fire) -> FireResult:
        job = self._jobs.get(fire.job)
        if job is None or job.next_fire_at != fire.expected:
            return FireResult(False, (None,) * len(fire.runs))
        self._put(self._jobs, fire.job, replace(job, next_fire_at=_utc(fire.next_fire_at)))
        return FireResult(True, tuple(self._insert(run) for run in fire.runs))

    def _insert(self, new: NewRun) -> int | None:
        if new.job not in self._jobs:
            raise UnknownJobError(new.job)
        # As SQLite's AUTOINCREMENT and PostgreSQL's sequences: taken before the key is checked.
        self._last_id += 1
        reason, status = Reason(new.reason), RunStatus(new.status)
        fire_time = _utc(new.fire_time)
        key: RunKey | None = None
        if fire_time is not None:
            key = (new.job, fire_time, reason.value, new.attempt)
            if key in self._keys:
                return None
        run = RunRecord(
            id=self._last_id,
            job=new.job,
            reason=reason,
            status=status,
            fire_time=fire_time,
            queued_at=new.queued_at.astimezone(UTC),
            not_before=_utc(new.not_before),
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
        )
        self._put(self._runs, run.id, run)
        if key is not None:
            self._put(self._keys, key, run.id)
        return run.id

    def _claim(self, claim: Claim) -> bool:
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
            run, status=RunStatus.RUNNING, node=claim.node, started_at=claim.at.astimezone(UTC)
        )
        self._put(self._runs, run.id, started)
        return True

    def _finish(self, finish: Finish) -> bool:
        run = self._runs.get(finish.run_id)
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
        return True

    def _progress(self, progress: Progress) -> bool:
        run = self._runs.get(progress.run_id)
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
            changes["next_fire_at"] = _utc(change.next_fire_at)
        updated = replace(job, **changes)
        self._put(self._jobs, job.name, updated)
        return _job_out(updated)

    def sync_jobs(self, defaults: Mapping[str, dict[str, Any]], at: datetime) -> SyncResult:
        """Make the stored jobs match the code (see `Store.sync_jobs`); all jobs by name."""
        checks.check_sync(defaults, at)
        wanted = {
            name: checks.normal_json(value, checks.sync_field(name))
            for name, value in defaults.items()
        }
        at = at.astimezone(UTC)
        replaced: dict[str, dict[str, Any]] = {}
        with self._using():
            for name, value in wanted.items():
                job = self._jobs.get(name)
                if job is None:
                    self._jobs[name] = JobRecord(
                        name, value, {}, False, None, True, None, created_at=at, updated_at=at
                    )
                elif job.defaults != value or not job.in_code:
                    if job.defaults != value:
                        replaced[name] = _copy(job.defaults)
                    self._jobs[name] = replace(job, defaults=value, in_code=True, updated_at=at)
            for name, job in list(self._jobs.items()):
                if name not in wanted and job.in_code:
                    self._jobs[name] = replace(job, in_code=False, updated_at=at)
            jobs = [_job_out(job) for _, job in sorted(self._jobs.items())]
            return SyncResult(jobs, replaced)

    def prune(self, job: str, retention: Retention, now: datetime, batch: int) -> int:
        """Delete up to `batch` of `job`'s oldest runs that `retention` no longer keeps."""
        checks.check_retention(retention, now, batch)
        with self._using():
            history = [run for run in self._runs.values() if run.job == job]
            kept = _newest(history, retention.keep_last)
            failures = [run for run in history if run.status in FAILURE_LIKE]
            others = [run for run in history if run.status not in FAILURE_LIKE | ACTIVE]
            newest_failures = _newest(failures, retention.fast_failures)
            newest_others = _newest(others, retention.keep_last)
            doomed: list[RunRecord] = []
            for run in history:
                if len(doomed) >= batch:
                    break
                if run.status in ACTIVE or run.id in kept:
                    continue
                if run.status in FAILURE_LIKE:
                    limit, newest = retention.failed_for, newest_failures
                else:
                    limit, newest = retention.succeeded_for, newest_others
                old = run.finished_at is not None and run.finished_at <= now - limit
                if old or (retention.fast and run.id not in newest):
                    doomed.append(run)
            for run in doomed:
                del self._runs[run.id]
                if run.fire_time is not None:
                    self._keys.pop((run.job, run.fire_time, run.reason.value, run.attempt), None)
            return len(doomed)

    # -- reads ------------------------------------------------------------------------------

    def get_job(self, name: str) -> JobRecord | None:
        """One job by name."""
        with self._using():
            job = self._jobs.get(name)
            return None if job is None else _job_out(job)

    def list_jobs(self) -> list[JobRecord]:
        """All jobs, by name."""
        with self._using():
            return [_job_out(job) for _, job in sorted(self._jobs.items())]

    def next_fire_times(self) -> list[tuple[datetime, str]]:
        """(next_fire_at, name) of every unpaused job that has one, earliest first."""
        with self._using():
            return sorted(
                (job.next_fire_at, job.name)
                for job in self._jobs.values()
                if job.next_fire_at is not None and not job.paused
            )

    def get_run(self, run_id: int) -> RunRecord | None:
        """One run by id."""
        with self._using():
            run = self._runs.get(run_id)
            return None if run is None else _run_out(run)

    def list_runs(
        self,
        job: str | None = None,
        statuses: Collection[RunStatus] | None = None,
        limit: int = 50,
        before_id: int | None = None,
    ) -> list[RunRecord]:
        """Runs, newest first, optionally of one job, in some statuses, below `before_id`."""
        checks.check_limit(limit)
        wanted = checks.check_statuses(statuses)
        found: list[RunRecord] = []
        with self._using():
            if limit == 0:
                return found
            for run in reversed(self._runs.values()):
                if before_id is not None and run.id >= before_id:
                    continue
                if job is not None and run.job != job:
                    continue
                if wanted is not None and run.status.value not in wanted:
                    continue
                found.append(_run_out(run))
                if len(found) == limit:
                    break
            return found

    def active_runs(self, job: str | None = None) -> list[RunRecord]:
        """Queued and running runs, oldest first."""
        with self._using():
            return [
                _run_out(run)
                for run in self._runs.values()
                if run.status in ACTIVE and (job is None or run.job == job)
            ]

    def last_finished_runs(self) -> dict[str, RunRecord]:
        """The newest finished, not skipped, run of each job that has one."""
        last: dict[str, RunRecord] = {}
        with self._using():
            for run in reversed(self._runs.values()):
                if run.job in last or run.status in ACTIVE or run.status is RunStatus.SKIPPED:
                    continue
                last[run.job] = _run_out(run)
        return dict(sorted(last.items()))

    def count_runs(self, job: str | None = None) -> int:
        """How many run rows there are (of one job)."""
        with self._using():
            if job is None:
                return len(self._runs)
            return sum(run.job == job for run in self._runs.values())

    # -- nodes ------------------------------------------------------------------------------

    def register_node(self, node: NodeRecord) -> None:
        """Add a node, or replace the one of the same id."""
        checks.check_node(node)
        stored = replace(
            node,
            started_at=node.started_at.astimezone(UTC),
            heartbeat_at=node.heartbeat_at.astimezone(UTC),
            stopped_at=_utc(node.stopped_at),
        )
        with self._using():
            self._nodes[node.id] = stored

    def heartbeat(self, node_id: str, at: datetime) -> bool:
        """Renew a node's lease; False if it is unknown or stopped."""
        checks.aware(at, "heartbeat.at")
        with self._using():
            node = self._nodes.get(node_id)
            if node is None or node.stopped_at is not None:
                return False
            self._nodes[node_id] = replace(node, heartbeat_at=at.astimezone(UTC))
            return True

    def stop_node(self, node_id: str, at: datetime) -> None:
        """Record a node's clean exit (the first one, if told twice; unknown ids are ignored)."""
        checks.aware(at, "stop_node.at")
        with self._using():
            node = self._nodes.get(node_id)
            if node is not None and node.stopped_at is None:
                self._nodes[node_id] = replace(node, stopped_at=at.astimezone(UTC))

    def list_nodes(self) -> list[NodeRecord]:
        """All nodes, by start time (then id)."""
        with self._using():
            return sorted(self._nodes.values(), key=lambda node: (node.started_at, node.id))


def _newest(runs: list[RunRecord], count: int) -> set[int]:
    """The ids of the newest `count` of `runs` (which are in id order)."""
    return {run.id for run in runs[max(0, len(runs) - count) :]} if count else set()
