"""`MemoryStore`: the store in plain Python, for fast tests; the reference SqlStore is held to.

It keeps what SQL would keep (times in UTC, JSON as JSON gives it back, progress as floats) and
numbers runs as SQLite and PostgreSQL do: an insert skipped by the unique key still uses up an
id. `apply` is all-or-nothing through an undo log of every change it made.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, ClassVar

from rota.errors import StoreError
from rota.store import checks
from rota.store.abc import (
    Operation,
    Store,
    SyncResult,
    notices_of,
)
from rota.store.chains import EdgeState
from rota.store.events import events_of, sync_events
from rota.store.limits import LimiterState, Taken, TokenRequest, check_request, take
from rota.store.memory_apply import (
    MISSING,
    MemoryOperations,
    RunKey,
    copy_json,
    job_out,
    run_out,
    utc,
)
from rota.store.records import (
    ACTIVE,
    FAILURE_LIKE,
    MEDIAN_OF,
    EventRecord,
    JobKind,
    JobRecord,
    JobStats,
    NodeRecord,
    Reason,
    Retention,
    RunRecord,
    RunStatus,
    median_duration,
)

__all__ = ["MemoryStore"]


class MemoryStore(MemoryOperations, Store):
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
        self._spawn_keys: dict[tuple[str, str], int] = {}
        self._retries: dict[int, int] = {}  # retry_of: the id of the retry (one per attempt)
        self._edges: dict[tuple[str, str], EdgeState] = {}  # chains' edges (decision 0011)
        self._succeeded: set[int] = set()  # runs finished succeeded in the current apply
        self._nodes: dict[str, NodeRecord] = {}
        self._last_id = 0
        self._events: dict[int, EventRecord] = {}
        self._last_event = 0
        self._registered: dict[str, list[str]] = {}  # node id: the job names it registered
        self._removed_runs = 0  # how many runs the last RemoveJob deleted
        self._undo: list[tuple[dict[Any, Any], Any, Any]] | None = None
        self._listeners: list[Callable[[str], None]] = []
        self._origin = uuid.uuid4().hex
        self._limiters: dict[str, LimiterState] = {}

    @property
    def origin(self) -> str:
        """This store object's token, written on its events."""
        return self._origin

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

    # -- writes -----------------------------------------------------------------------------

    def apply(self, operations: Sequence[Operation]) -> list[Any]:
        """Apply the operations in order, all or nothing; one result per operation."""
        for index, operation in enumerate(operations):
            checks.check_operation(operation, index)
        with self._using():
            undo: list[tuple[dict[Any, Any], Any, Any]] = []
            last_id, last_event, self._undo = self._last_id, self._last_event, undo
            self._succeeded = set()
            try:
                results: list[Any] = []
                facts: list[Any] = []
                for operation in operations:
                    results.append(self._apply(operation))
                    facts.append(self._facts(operation, results[-1]))
                written = self._write_events(events_of(operations, results, facts))
            except BaseException:
                for table, key, old in reversed(undo):
                    if old is MISSING:
                        del table[key]
                    else:
                        table[key] = old
                # Runs a RemoveJob deleted come back at the end: keep the dict in id order.
                if any(table is self._runs and old is not MISSING for table, _, old in undo):
                    ordered = sorted(self._runs.items())
                    self._runs.clear()
                    self._runs.update(ordered)
                self._last_id, self._last_event = last_id, last_event
                raise
            finally:
                self._undo = None
        self._tell(notices_of(operations, results, written))
        return results

    def _tell(self, notices: list[str]) -> None:
        """Committed: tell whoever listens (Rotas sharing this store by name), outside the
        lock."""
        with self._lock:
            listeners = list(self._listeners)
        for notice in notices:
            for listener in listeners:
                listener(notice)

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

    def sync_jobs(
        self,
        defaults: Mapping[str, dict[str, Any]],
        at: datetime,
        *,
        internal: Collection[str] = (),
        update: bool = True,
    ) -> SyncResult:
        """Add the code's missing jobs and, with `update`, replace changed defaults (see
        `Store.sync_jobs`); all jobs by name."""
        internal_names = checks.check_sync(defaults, at, internal)
        wanted = {
            name: checks.normal_json(value, checks.sync_field(name))
            for name, value in defaults.items()
        }
        at = at.astimezone(UTC)
        replaced: dict[str, dict[str, Any]] = {}
        added: list[JobRecord] = []
        with self._using():
            for name, value in wanted.items():
                kind = JobKind.INTERNAL if name in internal_names else JobKind.CODE
                job = self._jobs.get(name)
                if job is None:
                    job = JobRecord(name, value, {}, False, None, kind, None, None, at, at)
                    self._jobs[name] = job
                    added.append(job)
                elif update and job.kind is kind and job.defaults != value:
                    replaced[name] = copy_json(job.defaults)
                    self._jobs[name] = replace(job, defaults=value, updated_at=at)
            written = self._write_events(sync_events(added, replaced, at))
            jobs = [job_out(job) for _, job in sorted(self._jobs.items())]
        if written is not None:
            self._tell([f"events:{written}"])
        return SyncResult(jobs, replaced)

    def prune_runs(self, retentions: Mapping[str, Retention], now: datetime, batch: int) -> int:
        """Delete up to `batch` runs, oldest first, that their job's retention no longer keeps."""
        checks.check_retentions(retentions, now, batch)
        with self._using():
            histories: dict[str, list[RunRecord]] = {name: [] for name in retentions}
            for run in self._runs.values():
                if run.job in histories:
                    histories[run.job].append(run)
            doomed = sorted(
                (
                    run
                    for name, history in histories.items()
                    for run in _past_retention(history, retentions[name], now)
                ),
                key=lambda run: run.id,
            )[:batch]
            for run in doomed:
                del self._runs[run.id]
                if run.fire_time is not None:
                    self._keys.pop((run.job, run.fire_time, run.reason.value, run.attempt), None)
                if run.retry_of is not None and self._retries.get(run.retry_of) == run.id:
                    del self._retries[run.retry_of]
            return len(doomed)

    # -- reads ------------------------------------------------------------------------------

    def get_job(self, name: str) -> JobRecord | None:
        """One job by name."""
        with self._using():
            job = self._jobs.get(name)
            return None if job is None else job_out(job)

    def list_jobs(self) -> list[JobRecord]:
        """All jobs, by name."""
        with self._using():
            return [job_out(job) for _, job in sorted(self._jobs.items())]

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
            run = self._runs.get(run_id) if checks.possible_id(run_id) else None
            return None if run is None else run_out(run)

    def _matching(self, wanted: checks.RunFilter) -> Iterator[RunRecord]:
        """The runs `wanted` lets through, newest first (the caller holds the lock)."""
        if wanted.empty:
            return
        for run in reversed(self._runs.values()):
            if wanted.before_id is not None and run.id >= wanted.before_id:
                continue
            if wanted.job is not None and run.job != wanted.job:
                continue
            if wanted.statuses is not None and run.status.value not in wanted.statuses:
                continue
            if wanted.reasons is not None and run.reason.value not in wanted.reasons:
                continue
            if wanted.since is not None and run.queued_at < wanted.since:
                continue
            if wanted.until is not None and run.queued_at >= wanted.until:
                continue
            if wanted.parent_run_id is not None and run.parent_run_id != wanted.parent_run_id:
                continue
            yield run

    def list_runs(
        self,
        job: str | None = None,
        statuses: Collection[RunStatus] | None = None,
        limit: int = 50,
        before_id: int | None = None,
        *,
        reasons: Collection[Reason] | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        parent_run_id: int | None = None,
    ) -> list[RunRecord]:
        """Runs, newest first, through the filters (see `Store.list_runs`)."""
        checks.check_limit(limit)
        wanted = checks.check_run_filter(
            job, statuses, reasons, since, until, before_id, parent_run_id
        )
        found: list[RunRecord] = []
        with self._using():
            if limit == 0:
                return found
            for run in self._matching(wanted):
                found.append(run_out(run))
                if len(found) == limit:
                    break
            return found

    def count_runs(
        self,
        job: str | None = None,
        statuses: Collection[RunStatus] | None = None,
        *,
        reasons: Collection[Reason] | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        before_id: int | None = None,
        parent_run_id: int | None = None,
    ) -> int:
        """How many runs the filters let through."""
        wanted = checks.check_run_filter(
            job, statuses, reasons, since, until, before_id, parent_run_id
        )
        with self._using():
            return sum(1 for _ in self._matching(wanted))

    def active_runs(self, job: str | None = None) -> list[RunRecord]:
        """Queued and running runs, oldest first."""
        with self._using():
            return [
                run_out(run)
                for run in self._runs.values()
                if run.status in ACTIVE and (job is None or run.job == job)
            ]

    def job_stats(self, names: Collection[str] | None = None) -> dict[str, JobStats]:
        """What each job's history says (see `Store.job_stats`), by name."""
        chosen = None if names is None else checks.check_names(names, "job_stats.names")
        with self._using():
            histories: dict[str, list[RunRecord]] = {
                name: [] for name in self._jobs if chosen is None or name in chosen
            }
            for run in self._runs.values():
                if run.job in histories:
                    histories[run.job].append(run)
            return {name: _stats(history) for name, history in sorted(histories.items())}

    # -- events -----------------------------------------------------------------------------

    def events_after(
        self, after_id: int, limit: int = 1000, *, exclude_origin: str | None = None
    ) -> list[EventRecord]:
        """Events above `after_id`, ascending, at most `limit`, leaving out one origin's."""
        checks.check_events_after(after_id, limit, exclude_origin)
        found: list[EventRecord] = []
        with self._using():
            if limit == 0:
                return found
            for event in self._events.values():
                if event.id <= after_id or event.origin == exclude_origin:
                    continue
                found.append(replace(event, data=copy_json(event.data)))
                if len(found) == limit:
                    break
        return found

    def last_event_id(self) -> int:
        """The newest event's id, 0 when there is none."""
        with self._using():
            return next(reversed(self._events), 0)

    def prune_events(self, before: datetime, keep: int, batch: int) -> int:
        """Delete up to `batch` of the oldest events before `before`, keeping the newest
        `keep`."""
        checks.check_prune_events(before, keep, batch)
        with self._using():
            ids = list(self._events)
            kept = set(ids[max(0, len(ids) - keep) :]) if keep else set()
            doomed = [
                event_id
                for event_id in ids
                if event_id not in kept and self._events[event_id].at < before
            ][:batch]
            for event_id in doomed:
                del self._events[event_id]
            return len(doomed)

    # -- nodes ------------------------------------------------------------------------------

    def register_node(self, node: NodeRecord, jobs: Collection[str] = ()) -> int:
        """Add a node, or replace the one of the same id, with the job names it registers; its
        lease generation (new unless the node's row is there and not stopped)."""
        checks.check_node(node)
        names = sorted(checks.check_names(jobs, "register_node.jobs"))
        with self._using():
            before = self._nodes.get(node.id)
            if before is not None and before.stopped_at is None:
                generation = before.generation
            else:
                generation = max((n.generation for n in self._nodes.values()), default=0) + 1
            self._nodes[node.id] = replace(
                node,
                started_at=node.started_at.astimezone(UTC),
                heartbeat_at=node.heartbeat_at.astimezone(UTC),
                stopped_at=utc(node.stopped_at),
                generation=generation,
            )
            self._registered[node.id] = names
            return generation

    def registered_jobs(self, node_ids: Collection[str]) -> set[str]:
        """The job names any of the given nodes registered."""
        ids = checks.check_names(node_ids, "registered_jobs.node_ids")
        with self._using():
            return {name for node_id in ids for name in self._registered.get(node_id, ())}

    def heartbeat(self, node_id: str, at: datetime, generation: int | None = None) -> bool:
        """Renew a node's lease; False if it is unknown or stopped, or has another
        generation."""
        checks.aware(at, "heartbeat.at")
        with self._using():
            node = self._nodes.get(node_id)
            if node is None or node.stopped_at is not None:
                return False
            if generation is not None and node.generation != generation:
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

    def take_tokens(self, request: TokenRequest) -> Taken:
        """Grant a limiter's tokens if its capacity allows (see `Store.take_tokens`)."""
        check_request(request)
        with self._using():
            state = self._limiters.get(request.name) or LimiterState(request.name, 1, 1)
            taken = take(state, request)
            self._limiters[request.name] = taken.state
            return taken

    def limiter_states(self) -> list[LimiterState]:
        """Every limiter's state, by name."""
        with self._using():
            return [self._limiters[name] for name in sorted(self._limiters)]

    def list_nodes(self) -> list[NodeRecord]:
        """All nodes, by start time (then id)."""
        with self._using():
            return sorted(self._nodes.values(), key=lambda node: (node.started_at, node.id))


def _stats(history: list[RunRecord]) -> JobStats:
    """A job's stats from its runs, in id order (as `SqlStore.job_stats` computes them)."""
    shown = [run for run in history if run.status not in ACTIVE | {RunStatus.SKIPPED}]
    successes = [run for run in history if run.status is RunStatus.SUCCEEDED]
    failures = [run for run in history if run.status in FAILURE_LIKE]
    last_run = run_out(shown[-1]) if shown else None
    last_success = run_out(successes[-1]) if successes else None
    since = 0 if last_success is None else last_success.id
    return JobStats(
        last_run=last_run,
        last_success=last_success,
        last_failure=run_out(failures[-1]) if failures else None,
        consecutive_failures=sum(run.id > since for run in failures),
        last_duration=None if last_run is None else last_run.duration,
        median_duration=median_duration(run.duration for run in successes[-MEDIAN_OF:]),
    )


def _newest(runs: list[RunRecord], count: int) -> set[int]:
    """The ids of the newest `count` of `runs` (which are in id order)."""
    return {run.id for run in runs[max(0, len(runs) - count) :]} if count else set()


def _past_retention(
    history: list[RunRecord], retention: Retention, now: datetime
) -> list[RunRecord]:
    """The runs of one job's `history` that `retention` no longer keeps."""
    kept = _newest(history, retention.keep_last)
    failures = [run for run in history if run.status in FAILURE_LIKE]
    others = [run for run in history if run.status not in FAILURE_LIKE | ACTIVE]
    newest_failures = _newest(failures, retention.fast_failures)
    newest_others = _newest(others, retention.keep_last)
    doomed: list[RunRecord] = []
    for run in history:
        if run.status in ACTIVE or run.id in kept:
            continue
        if run.status in FAILURE_LIKE:
            limit, newest = retention.failed_for, newest_failures
        else:
            limit, newest = retention.succeeded_for, newest_others
        old = run.finished_at is not None and run.finished_at <= now - limit
        if old or (retention.fast and run.id not in newest):
            doomed.append(run)
    return doomed
