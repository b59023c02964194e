"""What an admin page reads: each job with everything its row on a jobs page shows, and pages of
runs with a total. Every datetime returned is aware and in UTC."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, overload

from rota.admin.commands import stored_settings
from rota.clock import Clock
from rota.engine.chains import downstream_of, upstream_of_records
from rota.engine.parameters import setting_values
from rota.engine.settings import JobSettings
from rota.errors import SettingError, UnknownJobError
from rota.schedules import Schedule
from rota.store.abc import Store
from rota.store.checks import possible_id
from rota.store.records import JobKind, JobRecord, JobStats, Reason, RunRecord, RunStatus

__all__ = ["NEXT_FIRE_TIMES", "JobInfo", "RunPage", "Views"]

NEXT_FIRE_TIMES = 5
MAX_PAGE = 10_000


@dataclass(frozen=True)
class JobInfo:
    """A job as an admin sees it: what it is, when it fires, what an admin changed, and how its
    runs have gone."""

    name: str
    description: str
    kind: JobKind
    """``code`` (a decorator), ``runtime`` (`add_job`) or ``internal`` (rota's own)."""
    target: str | None
    """A run-time job's function, ``package.module:function``."""
    orphaned: bool
    """A code job that no live node registers any more: kept with its history, never fired."""
    schedule: Schedule
    next_fire_at: datetime | None
    next_fire_times: tuple[datetime, ...]
    paused: bool
    pause_note: str | None
    settings: JobSettings
    """The effective settings: the defaults with the overrides laid over."""
    defaults: dict[str, Any]
    """The code's settings, as JSON."""
    overrides: dict[str, Any]
    """What an admin changed, as JSON (same keys)."""
    running: tuple[RunRecord, ...]
    queued: int
    last_run: RunRecord | None
    last_success: RunRecord | None
    last_failure: RunRecord | None
    consecutive_failures: int
    last_duration: timedelta | None
    median_duration: timedelta | None
    upstream: tuple[str, ...] = ()
    """The jobs this one is after (its schedule is ``after`` them), in the schedule's order."""
    downstream: tuple[str, ...] = ()
    """The jobs after this one, by name: a success of this job counts for each."""

    @property
    def in_code(self) -> bool:
        """Whether the job is defined in the code of a live node (or the node that ran last)."""
        return self.kind is JobKind.CODE and not self.orphaned

    @property
    def overridden(self) -> tuple[str, ...]:
        """The names of the settings an admin overrode."""
        return tuple(sorted(self.overrides))

    @property
    def is_overridden(self) -> bool:
        """Whether an admin changed any setting of this job."""
        return bool(self.overrides)


@dataclass(frozen=True, eq=False)
class RunPage(Sequence[RunRecord]):
    """One page of runs, newest first, with the `total` matching the filters and the id to
    pass as `before_id` for the next page (None on the last). It is a sequence of its runs,
    and equal to a list of the same runs."""

    items: tuple[RunRecord, ...]
    total: int
    next_before_id: int | None

    @overload
    def __getitem__(self, index: int) -> RunRecord: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[RunRecord]: ...
    def __getitem__(self, index: int | slice) -> RunRecord | Sequence[RunRecord]:
        return self.items[index]

    def __len__(self) -> int:
        return len(self.items)

    def __iter__(self) -> Iterator[RunRecord]:
        return iter(self.items)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, RunPage):
            return (self.items, self.total, self.next_before_id) == (
                other.items,
                other.total,
                other.next_before_id,
            )
        if isinstance(other, list | tuple):
            return self.items == tuple(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]


class Views:
    """The reads of one store."""

    def __init__(self, store: Callable[[], Store], clock: Clock, lease: timedelta) -> None:
        self._store = store
        self._clock = clock
        self._lease = lease

    def jobs(
        self, *, internal: bool = False, names: Collection[str] | None = None
    ) -> list[JobInfo]:
        """Jobs by name; rota's own only with `internal`."""
        store = self._store()
        every = store.list_jobs()
        graph = upstream_of_records(every)  # chains are read off every job, listed or not
        records = [
            r
            for r in every
            if (internal or r.kind is not JobKind.INTERNAL) and (names is None or r.name in names)
        ]
        wanted = [r.name for r in records]
        stats = store.job_stats(wanted)
        active: dict[str, list[RunRecord]] = {}
        for run in store.active_runs():
            active.setdefault(run.job, []).append(run)
        registered = self.registered()
        now = self._clock.now()
        return [
            replace(
                _info(record, stats.get(record.name), active.get(record.name, []), registered, now),
                upstream=graph.get(record.name, ()),
                downstream=downstream_of(graph, record.name),
            )
            for record in records
        ]

    def job(self, name: str) -> JobInfo:
        """One job (rota's own too)."""
        found = self.jobs(internal=True, names={name})
        if not found:
            raise UnknownJobError(name)
        return found[0]

    def registered(self) -> set[str] | None:
        """The jobs that live nodes registered (when none lives, the node that ran last); None
        when no node has ever run."""
        store = self._store()
        nodes = store.list_nodes()
        if not nodes:
            return None
        now = store.database_now(self._clock.now())
        alive = [
            n.id for n in nodes if n.stopped_at is None and n.heartbeat_at >= now - self._lease
        ]
        if not alive:
            # The last to renew its lease; of two that renewed at one instant (a fake clock,
            # SQLite's caller-stamped leases), the one that started later.
            alive = [max(nodes, key=lambda n: (n.heartbeat_at, n.started_at)).id]
        return store.registered_jobs(alive)

    def runs(
        self,
        job: str | None = None,
        status: str | Collection[str] | None = None,
        reason: str | Collection[str] | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 50,
        before_id: int | None = None,
        parent_run_id: int | None = None,
    ) -> RunPage:
        """A page of runs, newest first, with the total of those matching; with
        `parent_run_id`, only the runs that run spawned."""
        store = self._store()
        if job is not None and store.get_job(job) is None:
            raise UnknownJobError(job)
        statuses = _members(RunStatus, status, "status")
        reasons = _members(Reason, reason, "reason")
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_PAGE:
            raise SettingError("limit", str(limit), f"{limit!r} is not a number 1-{MAX_PAGE}")
        if parent_run_id is not None and not possible_id(parent_run_id):
            raise SettingError(
                "parent_run_id", repr(parent_run_id)[:40], "give a run id (a number >= 1)"
            )
        filters: dict[str, Any] = {
            "reasons": reasons,
            "since": since,
            "until": until,
            "parent_run_id": parent_run_id,
        }
        items = store.list_runs(job, statuses, limit + 1, before_id, **filters)
        total = store.count_runs(job, statuses, **filters)
        more = len(items) > limit
        items = items[:limit]
        return RunPage(tuple(items), total, items[-1].id if more else None)


def _info(
    record: JobRecord,
    stats: JobStats | None,
    active: list[RunRecord],
    registered: set[str] | None,
    now: datetime,
) -> JobInfo:
    settings = stored_settings(record)
    times: list[datetime] = []
    cursor = record.next_fire_at
    while cursor is not None and not record.paused and len(times) < NEXT_FIRE_TIMES:
        times.append(cursor.astimezone(UTC))
        cursor = settings.schedule.next_after(cursor)
    orphaned = (
        record.kind is JobKind.CODE and registered is not None and record.name not in registered
    )
    return JobInfo(
        name=record.name,
        description=settings.description,
        kind=record.kind,
        target=record.target,
        orphaned=orphaned,
        schedule=settings.schedule,
        next_fire_at=None if record.paused else record.next_fire_at,
        next_fire_times=tuple(times),
        paused=record.paused,
        pause_note=record.pause_note,
        settings=settings,
        defaults=setting_values(record.defaults),
        overrides=dict(record.override),
        running=tuple(r for r in active if r.status is RunStatus.RUNNING),
        queued=sum(r.status is RunStatus.QUEUED for r in active),
        last_run=None if stats is None else stats.last_run,
        last_success=None if stats is None else stats.last_success,
        last_failure=None if stats is None else stats.last_failure,
        consecutive_failures=0 if stats is None else stats.consecutive_failures,
        last_duration=None if stats is None else stats.last_duration,
        median_duration=None if stats is None else stats.median_duration,
    )


def _members(
    kind: type[RunStatus] | type[Reason], value: str | Collection[str] | None, field: str
) -> set[Any] | None:
    if value is None:
        return None
    items = [value] if isinstance(value, str) else list(value)
    allowed = {member.value for member in kind}
    for item in items:
        if item not in allowed:
            raise SettingError(field, str(item), f"{item!r} is not one of {sorted(allowed)}")
    return {kind(item) for item in items}
