"""The store interface: the only way the engine reads or writes state.

Writes are *operations* applied in order in one transaction by `Store.apply`, so the engine can
gather a tick's changes and commit them together. Reads are plain methods. Every instant is an
aware datetime in UTC, in and out. Implementations: `MemoryStore` (tests), `SqlStore` (SQLite,
PostgreSQL). One contract suite, tests/store/, runs against all of them.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum, StrEnum
from typing import Any, Final

from rota.store.limits import LimiterState, Taken, TokenRequest
from rota.store.records import (
    EventRecord,
    JobKind,
    JobRecord,
    JobStats,
    NodeRecord,
    Reason,
    Retention,
    RunRecord,
    RunStatus,
)

__all__ = [
    "LEASE_LOST",
    "UNSET",
    "AddJob",
    "Chain",
    "Chained",
    "Claim",
    "Enqueue",
    "Finish",
    "Fire",
    "FireResult",
    "InterruptRuns",
    "Lease",
    "LeaseLost",
    "NewRun",
    "Operation",
    "Progress",
    "ReapNode",
    "Reaped",
    "Removal",
    "RemoveJob",
    "RequestCancel",
    "Store",
    "SyncResult",
    "UpdateJob",
    "notices_of",
    "reaped_retry",
]


class _Unset(Enum):
    UNSET = "UNSET"


UNSET: Final = _Unset.UNSET


class LeaseLost(Enum):
    """The result of a write made under a lease that no longer holds (decision 0007): its node
    was reaped by another, or registered anew since. Falsy, like a write that found nothing."""

    LEASE_LOST = "lease lost"

    def __bool__(self) -> bool:
        return False


LEASE_LOST: Final = LeaseLost.LEASE_LOST


@dataclass(frozen=True)
class Lease:
    """A node life's fencing token: the node's id and the generation `register_node` gave it.
    A run claimed under a lease is written about only under that lease."""

    node: str
    generation: int


@dataclass(frozen=True)
class NewRun:
    """A run to create: `status` is QUEUED, or SKIPPED (then `note` says why and it is finished
    at `queued_at`). A queued run with `not_before` does not start before that instant.

    A skipped run may stand for `fire_count` fire times skipped one after another, from
    `fire_time` to `last_fire_time` (required when `fire_count` is over 1).

    A skipped run with `streak_of` continues the streak of skipped fire times recorded by that
    run: if it is still a skipped run of the same job, it is updated instead (its `fire_count`
    grows by this run's; `last_fire_time`, `note` and `finished_at` become this run's) and its
    id is the result; otherwise a run is created as usual. A `quiet` continuation writes no
    event (the streak's run is current all the same): the engine announces a streak at most
    once a minute of fire times (decision 0009)."""

    job: str
    reason: Reason
    queued_at: datetime
    status: RunStatus = RunStatus.QUEUED
    fire_time: datetime | None = None
    not_before: datetime | None = None
    attempt: int = 1
    args: Mapping[str, Any] = field(default_factory=dict)
    note: str | None = None
    retry_of: int | None = None
    streak_of: int | None = None
    fire_count: int = 1
    last_fire_time: datetime | None = None
    quiet: bool = False
    parent_run_id: int | None = None
    spawn_key: str | None = None
    """A run with a key is created only if no queued or running run of its job has that key."""
    upstream_runs: Mapping[str, int] = field(default_factory=dict)
    """A dependency run's link to the upstream runs that triggered it (decision 0011)."""

    @property
    def latest_fire_time(self) -> datetime | None:
        """The last fire time this run stands for."""
        return self.last_fire_time if self.last_fire_time is not None else self.fire_time


@dataclass(frozen=True)
class Fire:
    """Advance `job`'s next fire time from `expected` to `next_fire_at` (compare-and-set, NULL
    equal to NULL) and, only if that succeeded, create `runs`.

    A run with a fire time is created at most once per (job, fire_time, reason, attempt): a
    second insert of the same key creates nothing. Result: `FireResult`.
    """

    job: str
    expected: datetime | None
    next_fire_at: datetime | None
    runs: tuple[NewRun, ...] = ()


@dataclass(frozen=True)
class FireResult:
    """Whether the job advanced, and each new run's id (None where its key already existed)."""

    advanced: bool
    run_ids: tuple[int | None, ...]


@dataclass(frozen=True)
class Enqueue:
    """Create one run without touching the job (manual, retry, dependency, spawned).
    Result: the new id, or None if its (job, fire_time, reason, attempt) key already existed
    or it is a retry (`retry_of`) of a run that has one already: one retry per attempt.

    With an `owner`, only while that lease holds; else `LEASE_LOST` and nothing is created.
    """

    run: NewRun
    owner: Lease | None = None


@dataclass(frozen=True)
class Claim:
    """Start a queued run on `node` at `at`. Result: True if it was queued and is now running.

    With a `limit`, only while fewer than `limit` runs of its job are running, on any node: two
    nodes claiming runs of one job at once take turns (PostgreSQL locks the job's row), so a job
    never runs more often at once than its limit allows.
    """

    run_id: int
    node: str
    at: datetime
    limit: int | None = None
    generation: int | None = None
    """With a generation: only while `node`'s lease has it (else `LEASE_LOST`); the run
    records it, and later writes about the run carry it as their `owner`."""


@dataclass(frozen=True)
class Finish:
    """Finish an active (queued or running) run. Result: True if it was active.

    Fields left as UNSET keep their stored value; `log` replaces the stored log. With an
    `owner`, only a run running under that lease: False if it is not, while the lease holds;
    `LEASE_LOST` once it does not (the run was taken from its node).
    """

    run_id: int
    status: RunStatus
    at: datetime
    note: str | _Unset | None = UNSET
    error: str | _Unset | None = UNSET
    traceback: str | _Unset | None = UNSET
    log: str | _Unset = UNSET
    progress_done: float | _Unset | None = UNSET
    progress_total: float | _Unset | None = UNSET
    progress_note: str | _Unset | None = UNSET
    owner: Lease | None = None


@dataclass(frozen=True)
class Progress:
    """Record a running run's progress and log so far. Result: True if it is running; with an
    `owner`, as `Finish`."""

    run_id: int
    done: float | None
    total: float | None
    note: str | None
    log: str | _Unset = UNSET
    owner: Lease | None = None


@dataclass(frozen=True)
class RequestCancel:
    """Cancel a run: a queued one becomes CANCELLED at once (finished at `at`, with `note`); a
    running one gets `cancel_requested` set and `note`, for the node running it to act on.
    Result: the run's status before (None for an unknown id); finished runs are left as they
    are."""

    run_id: int
    at: datetime
    note: str


@dataclass(frozen=True)
class InterruptRuns:
    """Record every RUNNING run of the given nodes as INTERRUPTED at `at` with `note`.
    Result: the ids of the runs changed, ascending."""

    nodes: tuple[str, ...]
    at: datetime
    note: str


@dataclass(frozen=True)
class ReapNode:
    """Take a dead node's runs from it, in one transaction: if `node` still has `generation`,
    is not stopped, and (with `expired_before`) last renewed its lease before that instant,
    record it stopped at `at`, its RUNNING runs INTERRUPTED with `note`, and queue at once the
    retry of each whose attempt is below its job's entry in `attempts` (the attempts its retry
    policy allows; a job not named gets none). Without `expired_before` the node is dead
    whatever its lease says (its process is gone). Result: `Reaped` (empty if the node renewed
    its lease, or was reaped, meanwhile)."""

    node: str
    generation: int
    at: datetime
    note: str
    expired_before: datetime | None
    attempts: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Reaped:
    """What `ReapNode` did: the runs it interrupted (ascending) and the retries it created,
    each with its id."""

    interrupted: tuple[int, ...] = ()
    retries: tuple[tuple[int, NewRun], ...] = ()


@dataclass(frozen=True)
class UpdateJob:
    """Change an existing job's admin state or next fire time unconditionally; UNSET leaves a
    field as it is. Sets `updated_at` to `at`. Result: the new JobRecord, or None if unknown."""

    name: str
    at: datetime
    override: dict[str, Any] | _Unset = UNSET
    paused: bool | _Unset = UNSET
    pause_note: str | _Unset | None = UNSET
    next_fire_at: datetime | _Unset | None = UNSET


@dataclass(frozen=True)
class AddJob:
    """Create a job row: `kind` says where it comes from, `target` is a runtime job's function
    (``package.module:function``). Result: the new JobRecord, or None if a job of that name
    exists (then nothing changed)."""

    name: str
    kind: JobKind
    target: str | None
    defaults: dict[str, Any]
    at: datetime
    next_fire_at: datetime | None = None


@dataclass(frozen=True)
class Chain:
    """After a run's `Finish`, in the same transaction: if that Finish recorded run `run_id`
    of `job` succeeded, count the success for each job in `downstream` whose effective schedule
    (the store's row: override over defaults) is still ``after`` `job`, and create a run
    (reason `dependency`, queued at `at`) of each whose upstream jobs have all succeeded since
    its last dependency run (decision 0011). A success is counted only in the transaction that
    records it, so a Chain tried again after that committed (its Finish then finds the run
    finished) counts nothing. A paused or removed downstream is left alone. The downstream's
    overlap policy decides, under a lock of its row, whether the run is queued or recorded
    skipped. Result: `Chained`."""

    run_id: int
    job: str
    at: datetime
    downstream: tuple[str, ...]


@dataclass(frozen=True)
class Chained:
    """What `Chain` created: each run's id, the run, and the upstream runs that triggered it
    (job → run id); and the active runs of ``overlap="replace"`` downstreams that the new runs
    replace, for the caller to cancel (with `RequestCancel`)."""

    runs: tuple[tuple[int, NewRun, Mapping[str, int]], ...] = ()
    replaces: tuple[int, ...] = ()


class Removal(StrEnum):
    """What `RemoveJob` did."""

    REMOVED = "removed"
    """The job's row and its queued and finished runs are deleted."""
    UNKNOWN = "unknown"
    """No job has that name."""
    RUNNING = "running"
    """A run of it is running: nothing changed."""


@dataclass(frozen=True)
class RemoveJob:
    """Delete a job with its queued and finished runs, unless a run of it is running.
    Result: a `Removal`."""

    name: str
    at: datetime


@dataclass(frozen=True)
class SyncResult:
    """What `Store.sync_jobs` found: every job after it, by name, and the defaults it replaced
    (the previous defaults of each known job whose defaults changed)."""

    jobs: list[JobRecord]
    replaced: dict[str, dict[str, Any]]


def reaped_retry(run: RunRecord, at: datetime) -> NewRun:
    """The retry `ReapNode` queues of an interrupted run: at once, with the same job, fire time
    and arguments (as the engine's own retries are)."""
    return NewRun(
        job=run.job,
        reason=Reason.RETRY,
        queued_at=at,
        fire_time=run.fire_time,
        attempt=run.attempt + 1,
        args=run.args,
        retry_of=run.id,
        parent_run_id=run.parent_run_id,
        spawn_key=run.spawn_key,
    )


def _nothing() -> None:
    """Stop listening where nothing was listened to."""


def notices_of(
    operations: Sequence[Operation], results: Sequence[Any], last_event: int | None = None
) -> list[str]:
    """The notices (see `Store.listen`) that committed operations and their results send;
    `last_event` is the id of the last event the transaction wrote, if it wrote any."""
    notices: list[str] = []
    for operation, result in zip(operations, results, strict=True):
        if isinstance(operation, Enqueue):
            if isinstance(result, int) and operation.run.status is RunStatus.QUEUED:
                notices.append(f"run:{result}")
        elif isinstance(operation, ReapNode):
            notices.extend(f"run:{run_id}" for run_id, _ in result.retries)
        elif isinstance(operation, Chain):
            notices.extend(
                f"run:{run_id}"
                for run_id, run, _ in result.runs
                if RunStatus(run.status) is RunStatus.QUEUED
            )
        elif isinstance(operation, UpdateJob | AddJob):
            if result is not None:
                notices.append(f"job:{operation.name}")
        elif isinstance(operation, RemoveJob):
            if result is Removal.REMOVED:
                notices.append(f"job:{operation.name}")
        elif isinstance(operation, RequestCancel) and result is RunStatus.RUNNING:
            notices.append(f"cancel:{operation.run_id}:{operation.note}")
    if last_event is not None:
        notices.append(f"events:{last_event}")
    return notices


Operation = (
    Fire
    | Enqueue
    | Claim
    | Finish
    | Progress
    | RequestCancel
    | InterruptRuns
    | ReapNode
    | UpdateJob
    | AddJob
    | RemoveJob
    | Chain
)


class Store(ABC):
    """Jobs, runs and nodes; see the module docstring."""

    @abstractmethod
    def open(self) -> None:
        """Connect, and create or migrate the schema to the current version."""

    @abstractmethod
    def close(self) -> None:
        """Release connections; the store may be opened again."""

    @abstractmethod
    def apply(self, operations: Sequence[Operation]) -> list[Any]:
        """Apply the operations in order in one transaction; one result per operation.

        If anything fails, nothing is written and the error propagates.
        """

    @property
    @abstractmethod
    def origin(self) -> str:
        """This store object's token (uuid hex), written on the events it writes."""

    # -- jobs -------------------------------------------------------------------------------

    @abstractmethod
    def sync_jobs(
        self,
        defaults: Mapping[str, dict[str, Any]],
        at: datetime,
        *,
        internal: Collection[str] = (),
        update: bool = True,
    ) -> SyncResult:
        """Add the code's jobs that are missing (kind `internal` for names in `internal`, else
        `code`; next_fire_at NULL) and, with `update`, replace the defaults of known ones of
        that kind. Never marks, deletes or re-kinds another row: a runtime job under a code
        name is left as it is, for the caller to find in the result. Overrides, pauses and
        next fire times are kept. Returns all jobs by name, and the defaults replaced.
        `update=False` only adds (a process that runs no engine)."""

    @abstractmethod
    def get_job(self, name: str) -> JobRecord | None:
        """One job by name."""

    @abstractmethod
    def list_jobs(self) -> list[JobRecord]:
        """All jobs, by name."""

    @abstractmethod
    def next_fire_times(self) -> list[tuple[datetime, str]]:
        """(next_fire_at, name) of every job that has one and is not paused, cheaply: what the
        scheduler's heap is built from at start."""

    @abstractmethod
    def job_stats(self, names: Collection[str] | None = None) -> dict[str, JobStats]:
        """What each job's history says (of the named jobs that exist, or of all), by name; a
        few queries in all, however many jobs."""

    # -- runs -------------------------------------------------------------------------------

    @abstractmethod
    def get_run(self, run_id: int) -> RunRecord | None:
        """One run by id (None for an id no run can have, such as -1 or "x")."""

    @abstractmethod
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
        """Runs, newest (highest id) first, optionally of one job, in some statuses, for some
        reasons, queued in [since, until), spawned by run `parent_run_id`, with ids below
        `before_id` (for paging)."""

    @abstractmethod
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
        """How many runs `list_runs` with the same filters would find without a limit."""

    @abstractmethod
    def active_runs(self, job: str | None = None) -> list[RunRecord]:
        """Queued and running runs, oldest first (ascending id)."""

    def prune(self, job: str, retention: Retention, now: datetime, batch: int) -> int:
        """Delete at most `batch` finished runs of `job` that `retention` no longer keeps;
        returns how many went. Never deletes a queued or running run."""
        return self.prune_runs({job: retention}, now, batch)

    @abstractmethod
    def prune_runs(self, retentions: Mapping[str, Retention], now: datetime, batch: int) -> int:
        """`prune` for many jobs in one transaction, each by its retention in `retentions`:
        at most `batch` runs in all, oldest first (ascending id); how many went."""

    # -- events -----------------------------------------------------------------------------

    @abstractmethod
    def events_after(
        self, after_id: int, limit: int = 1000, *, exclude_origin: str | None = None
    ) -> list[EventRecord]:
        """Events with ids above `after_id`, ascending, at most `limit`; without those written
        by the store object whose `origin` is `exclude_origin`."""

    @abstractmethod
    def last_event_id(self) -> int:
        """The id of the newest event (0 when there is none)."""

    @abstractmethod
    def prune_events(self, before: datetime, keep: int, batch: int) -> int:
        """Delete at most `batch` events older than `before`, never the newest `keep`; how
        many went."""

    # -- nodes ------------------------------------------------------------------------------

    @abstractmethod
    def register_node(self, node: NodeRecord, jobs: Collection[str] = ()) -> int:
        """Add a node (or replace the row of the same id) with the names of the jobs its code
        defines; its lease generation (`node.generation` is ignored). A node that is new, or
        whose row was stopped (reaped), gets a new generation, higher than any before; one
        registering again while it lives keeps its own."""

    @abstractmethod
    def registered_jobs(self, node_ids: Collection[str]) -> set[str]:
        """The names of the jobs any of the given nodes registered."""

    @abstractmethod
    def heartbeat(self, node_id: str, at: datetime, generation: int | None = None) -> bool:
        """Renew a node's lease; False if the node is unknown or stopped, or (given a
        `generation`) has registered anew since: that life lost its lease."""

    @abstractmethod
    def stop_node(self, node_id: str, at: datetime) -> None:
        """Record a node's clean exit."""

    @abstractmethod
    def list_nodes(self) -> list[NodeRecord]:
        """All nodes, by start time (without the jobs they registered)."""

    # -- limiters (decision 0012) ------------------------------------------------------------

    @abstractmethod
    def take_tokens(self, request: TokenRequest) -> Taken:
        """In one transaction of its own: give back `request.back`, and grant the limiter's
        tokens if its capacity allows (`rota.store.limits.take`); the limiter's row is created
        on first use and takes the request's capacity and period. Other nodes asking for the
        same limiter meanwhile wait for this transaction (its row is locked)."""

    @abstractmethod
    def limiter_states(self) -> list[LimiterState]:
        """Every limiter's stored state, by name."""

    def database_now(self, at: datetime) -> datetime:
        """The instant leases are measured by: the database's clock where it has one of its own
        (PostgreSQL, shared by machines whose clocks may disagree), else `at` (the caller's
        clock: one machine's store). `register_node` and `heartbeat` stamp with it too."""
        return at

    def listen(self, callback: Callable[[str], None]) -> Callable[[], None]:
        """Call `callback` (from any thread) with a notice for each change other processes
        should hear of, once its transaction committed: ``run:ID`` (a run was queued outside a
        `Fire`), ``job:NAME`` (a job's admin state or settings changed), ``cancel:ID:NOTE`` (a
        running run was asked to stop, and why), ``events:ID`` (a commit wrote events, the last
        with id ID). Returns a function that stops listening. Stores that hear nothing return
        at once (the default); notices may be lost, so listeners also poll now and then."""
        return _nothing
