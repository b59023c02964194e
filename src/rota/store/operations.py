"""The store's write operations: what `Store.apply` applies in order in one transaction, and
what each returns. Plain values, shared by every store and the engine that builds them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum, StrEnum
from typing import Any, Final

from rota.store.records import JobKind, JobRecord, Reason, RunRecord, RunStatus

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
    "SyncResult",
    "UpdateJob",
    "deferrals_in_a_row",
    "deferred_by_limiter",
    "earlier_attempts",
    "lineage_deferrals",
    "notices_of",
    "reaped_retry",
    "retried_by_reap",
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
    retry of each that failed fewer times than its job's entry in `attempts` (the attempts its
    retry policy allows; a job not named gets none): `retried_by_reap`. Without
    `expired_before` the node is dead whatever its lease says (its process is gone). Result:
    `Reaped` (empty if the node renewed its lease, or was reaped, meanwhile)."""

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


def deferred_by_limiter(run: RunRecord) -> bool:
    """Whether `run` ended to wait for a limiter (decision 0012, point 5): skipped with the
    note the engine's `LimiterWait` writes. Such an attempt is no failure."""
    note = run.note or ""
    return (
        run.status is RunStatus.SKIPPED
        and note.startswith("waiting for limiter ")
        and ": retried then" in note
    )


def earlier_attempts(
    run: RunRecord, read: Callable[[int], RunRecord | None]
) -> Iterator[RunRecord]:
    """The attempts before `run`, newest first: its retry_of, that one's, and so on, each got
    with `read` as it is asked for. Ends at the first attempt, or at one pruned."""
    previous = run.retry_of
    while previous is not None:
        earlier = read(previous)
        if earlier is None or earlier.id >= run.id:  # pruned (or not an earlier attempt)
            return
        yield earlier
        run, previous = earlier, earlier.retry_of


def lineage_deferrals(run: RunRecord, read: Callable[[int], RunRecord | None]) -> int:
    """How many of the attempts before `run` a limiter deferred, in a row or not: one read per
    earlier attempt."""
    return sum(deferred_by_limiter(earlier) for earlier in earlier_attempts(run, read))


def deferrals_in_a_row(run: RunRecord, read: Callable[[int], RunRecord | None], most: int) -> int:
    """How many limiter deferrals came right before `run` (the attempts before it, while a
    limiter deferred them), at most `most`: one read per attempt counted, and one more."""
    count = 0
    for earlier in earlier_attempts(run, read):
        if count >= most or not deferred_by_limiter(earlier):
            break
        count += 1
    return count


def retried_by_reap(run: RunRecord, attempts: int, read: Callable[[int], RunRecord | None]) -> bool:
    """Whether `ReapNode` retries its interrupted `run`, of a job allowed `attempts`: if its
    failures (its attempts, less those a limiter deferred) are fewer. The earlier attempts are
    read only when the attempt's number alone says no."""
    if run.attempt < attempts:
        return True
    return run.retry_of is not None and run.attempt - lineage_deferrals(run, read) < attempts
