"""The store interface: the only way the engine reads or writes state.

Writes are *operations* applied in order in one transaction by `Store.apply`, so the engine can
gather a tick's changes and commit them together. Reads are plain methods. Every instant is an
aware datetime in UTC, in and out. Implementations: `MemoryStore` (tests), `SqlStore` (SQLite,
PostgreSQL). One contract suite, tests/store/, runs against all of them.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Collection, Mapping, Sequence
from datetime import datetime
from typing import Any

from rota.store.limits import LimiterState, Taken, TokenRequest
from rota.store.operations import Operation, SyncResult
from rota.store.records import (
    EventRecord,
    JobRecord,
    JobStats,
    NodeRecord,
    Reason,
    Retention,
    RunRecord,
    RunStatus,
)

__all__ = ["Store"]


def _nothing() -> None:
    """Stop listening where nothing was listened to."""


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
