"""`SqlStore.apply`: operations in order on one connection inside one write transaction.

Runs to create are gathered while operations that only create runs or advance jobs follow each
other (a tick's Fires and Enqueues), and written with one ``INSERT ... ON CONFLICT DO NOTHING
... RETURNING`` executed for all of them, which SQLAlchemy sends as multi-row statements. Any
other operation first writes what is gathered, so every operation sees the ones before it.

Claims, finishes and progress, fenced by lease, are `rota.store.sql_run_writes.RunWrites`.

After the operations, the transaction's events (`rota.store.events.events_of`) are inserted
with one executemany, after the facts about the runs they name were read once per group.
"""

from __future__ import annotations

from collections.abc import Sequence, Set
from datetime import datetime
from itertools import groupby
from typing import Any

from sqlalchemy import Connection, bindparam, select, update
from sqlalchemy.sql.dml import Insert, ReturningInsert

from rota.errors import StoreError, UnknownJobError
from rota.store import dialect, sql_chains, sql_events, sql_fencing, sql_jobs, sql_spawn
from rota.store.abc import (
    LEASE_LOST,
    UNSET,
    AddJob,
    Chain,
    Claim,
    Enqueue,
    Finish,
    Fire,
    FireResult,
    InterruptRuns,
    LeaseLost,
    NewRun,
    Operation,
    Progress,
    ReapNode,
    Removal,
    RemoveJob,
    RequestCancel,
    UpdateJob,
)
from rota.store.events import RunFacts, StreakFacts, events_of
from rota.store.records import JobRecord, Reason, RunStatus
from rota.store.schema import job_record, jobs, runs
from rota.store.sql_run_writes import RunWrites

__all__ = ["Transaction", "new_run_row"]

# (job, fire time as given or as the column writes it, reason, attempt), or ("", retry_of) for
# a retry without a fire time: what makes a new run unique.
RunKey = tuple[Any, ...]


def new_run_row(run: NewRun) -> dict[str, Any]:
    """The column values of a run created from `run`; the others start empty (NULL, or the
    column's default: no log, no cancel requested)."""
    status = RunStatus(run.status)
    return {
        "job": run.job,
        "reason": Reason(run.reason).value,
        "status": status.value,
        "fire_time": run.fire_time,
        "queued_at": run.queued_at,
        "not_before": run.not_before,
        "finished_at": run.queued_at if status is RunStatus.SKIPPED else None,
        "attempt": run.attempt,
        "args": dict(run.args),
        "note": run.note,
        "retry_of": run.retry_of,
        "fire_count": run.fire_count,
        "last_fire_time": run.last_fire_time if run.fire_count > 1 else None,
        "parent_run_id": run.parent_run_id,
        "spawn_key": run.spawn_key,
        "upstream_runs": dict(run.upstream_runs),
    }


class Transaction:
    """Applies operations on `connection`, which is in a write transaction."""

    def __init__(
        self,
        connection: Connection,
        insert_runs: ReturningInsert[Any],
        insert_job: Insert,
        known_jobs: Set[str],
        origin: str,
    ) -> None:
        self.connection = connection
        self.writes = RunWrites(connection)  # claims, finishes, progress: fenced by lease
        self._insert_runs = insert_runs
        self._insert_job = insert_job
        self._origin = origin
        # Names of jobs known to exist: jobs are never deleted, so a name once seen stays valid
        # and the check before inserting runs costs nothing in the usual case. Names this
        # transaction finds go to `learned`, kept by the store only once it commits (it is not
        # copied here: a copy per transaction would cost as much as the transaction).
        self.known_jobs = known_jobs
        self.learned: set[str] = set()
        # Names this transaction deleted (RemoveJob): no longer known, whatever the cache says.
        self.removed: set[str] = set()
        self.last_event: int | None = None  # the id of the last event written, if any
        self._removed_runs = 0
        self._pending: list[NewRun] = []
        # Where each pending run's id goes: (operation index, position in a Fire's runs or -1).
        self._slots: list[tuple[int, int]] = []
        # Skipped runs that continued a streak: (operation index, position, the streak's id),
        # and what their events say, by operation index and position.
        self._continued: list[tuple[int, int, int]] = []
        self._streaks: dict[int, dict[int, StreakFacts]] = {}
        # Runs a Finish recorded succeeded in this transaction: what a Chain may count.
        self.succeeded: set[int] = set()

    def apply(self, operations: Sequence[Operation]) -> list[Any]:
        """One result per operation (see the operations' docstrings).

        Consecutive operations of one kind are written together where SQL allows (a busy engine
        sends dozens of fires, claims and finishes at once), with the same results as one by one.
        """
        results: list[Any] = [None] * len(operations)
        facts: list[Any] = [None] * len(operations)  # see events_of
        start = 0
        for kind, members in groupby(operations, key=type):
            group: list[Any] = list(members)
            end = start + len(group)
            if kind is Fire:
                results[start:end] = self._fires(start, group)
            elif kind is Enqueue:
                for offset, enqueue in enumerate(group):
                    if enqueue.owner is not None and not self.writes.holds(enqueue.owner):
                        results[start + offset] = LEASE_LOST
                        continue
                    self._gather(start + offset, -1, enqueue.run)
            else:
                self._write_runs(results)  # runs gathered so far exist before they change
                if kind is Claim or kind is Finish:
                    done = (
                        self.writes.claims(group) if kind is Claim else self.writes.finishes(group)
                    )
                    results[start:end] = done
                    if kind is Finish:
                        self.succeeded.update(
                            op.run_id
                            for op, ok in zip(group, done, strict=True)
                            if ok is True and RunStatus(op.status) is RunStatus.SUCCEEDED
                        )
                    facts[start:end] = self._facts_of_group(group, done)
                else:
                    for index in range(start, end):
                        results[index] = self._other(operations[index])
                        facts[index] = self._facts(operations[index], results[index])
            start = end
        self._write_runs(results)
        for index, result in enumerate(results):
            if isinstance(result, list) and isinstance(operations[index], Fire):
                results[index] = FireResult(True, tuple(result))
                facts[index] = self._streaks.get(index)
        new = events_of(operations, results, facts)
        self.last_event = sql_events.write_events(
            self.connection, new, self._origin, self.writes.time
        )
        return results

    # -- what events say of the runs ----------------------------------------------------------

    def _run_facts(self, ids: Sequence[int]) -> dict[int, RunFacts]:
        return sql_events.run_facts(self.connection, ids)

    def _facts_of_group(
        self, group: Sequence[Claim | Finish], done: Sequence[bool | LeaseLost]
    ) -> list[Any]:
        found = self._run_facts([op.run_id for op, ok in zip(group, done, strict=True) if ok])
        return [found[op.run_id] if ok else None for op, ok in zip(group, done, strict=True)]

    def _facts(self, operation: Operation, result: Any) -> Any:
        if isinstance(operation, Claim | Finish | Progress):
            return self._run_facts([operation.run_id]).get(operation.run_id) if result else None
        if isinstance(operation, RequestCancel):
            if result is None:
                return None
            return self._run_facts([operation.run_id]).get(operation.run_id)
        if isinstance(operation, InterruptRuns):
            return self._run_facts(result)
        if isinstance(operation, ReapNode):
            return self._run_facts(result.interrupted)
        if isinstance(operation, RemoveJob):
            return self._removed_runs
        return None

    # -- creating runs ----------------------------------------------------------------------

    def _fires(self, start: int, fires: Sequence[Fire]) -> list[FireResult | list[int | None]]:
        if len(fires) == 1:
            return [self._fire(start, fires[0])]
        # Many jobs due at once: read their next fire times (this transaction holds the write
        # lock, and FOR UPDATE the rows on PostgreSQL), compare-and-set in Python, and write the
        # advanced ones with one executemany. Rows are locked in name order, so two nodes
        # firing the same jobs take them in the same order rather than deadlock.
        names = {fire.job for fire in fires}
        current: dict[str, datetime | None] = {
            row.name: row.next_fire_at
            for row in self.connection.execute(
                select(jobs.c.name, jobs.c.next_fire_at)
                .where(jobs.c.name.in_(names))
                .order_by(jobs.c.name)
                .with_for_update()
            )
        }
        results: list[FireResult | list[int | None]] = []
        advanced: list[dict[str, Any]] = []
        for offset, fire in enumerate(fires):
            if fire.job not in current or current[fire.job] != fire.expected:
                results.append(FireResult(False, (None,) * len(fire.runs)))
                continue
            current[fire.job] = fire.next_fire_at
            advanced.append({"v_name": fire.job, "v_next": fire.next_fire_at})
            self.learned.add(fire.job)
            for position, run in enumerate(fire.runs):
                self._gather(start + offset, position, run)
            results.append([None] * len(fire.runs))
        if advanced:
            self.connection.execute(
                update(jobs)
                .where(jobs.c.name == bindparam("v_name"))
                .values(next_fire_at=bindparam("v_next")),
                advanced,
            )
        return results

    def _fire(self, index: int, fire: Fire) -> FireResult | list[int | None]:
        if dialect.driver_batches(self.connection):
            expected, following = (
                self.writes.time(fire.expected),
                self.writes.time(fire.next_fire_at),
            )
            advanced = dialect.advance_job(self.connection, fire.job, expected, following)
        else:
            changed = self.connection.execute(
                update(jobs)
                .where(jobs.c.name == fire.job)
                .where(jobs.c.next_fire_at.is_not_distinct_from(fire.expected))
                .values(next_fire_at=fire.next_fire_at)
            ).rowcount
            advanced = changed == 1
        if not advanced:
            return FireResult(False, (None,) * len(fire.runs))
        self.learned.add(fire.job)
        for position, run in enumerate(fire.runs):
            self._gather(index, position, run)
        # Filled in with the new ids when the gathered runs are written.
        return [None] * len(fire.runs)

    def _gather(self, index: int, position: int, run: NewRun) -> None:
        if run.streak_of is not None and RunStatus(run.status) is RunStatus.SKIPPED:
            streak = self._continue_streak(run, run.streak_of)
            if streak is not None:
                self._continued.append((index, position, run.streak_of))
                self._streaks.setdefault(index, {})[position] = streak
                return
        self._pending.append(run)
        self._slots.append((index, position))

    def _continue_streak(self, run: NewRun, run_id: int) -> StreakFacts | None:
        """Count `run`'s fire time into the skipped run `run_id`, if it is still one of the
        job's; what it says then, or None (then `run` is created instead)."""
        row = self.connection.execute(
            update(runs)
            .where(
                runs.c.id == run_id,
                runs.c.job == run.job,
                runs.c.status == RunStatus.SKIPPED.value,
            )
            .values(
                fire_count=runs.c.fire_count + run.fire_count,
                last_fire_time=run.latest_fire_time,
                note=run.note,
                finished_at=run.queued_at,
            )
            .returning(runs.c.fire_count, runs.c.last_fire_time)
        ).first()
        return None if row is None else StreakFacts(int(row[0]), row[1])

    def _write_runs(self, results: list[Any]) -> None:
        for index, position, streak_id in self._continued:
            results[index][position] = streak_id
        self._continued = []
        if not self._pending:
            return
        pending, slots = self._pending, self._slots
        self._pending, self._slots = [], []
        ids = self.insert_runs(pending)
        for (index, position), run_id in zip(slots, ids, strict=True):
            if position < 0:
                results[index] = run_id
            else:
                results[index][position] = run_id

    def insert_runs(self, pending: Sequence[NewRun]) -> list[int | None]:
        """Insert runs, skipping those whose key exists; each one's id or None, in order."""
        if any(run.spawn_key is not None for run in pending):
            return self._insert_with_spawn_keys(pending)
        self._require_jobs(pending)
        rows = [new_run_row(run) for run in pending]
        returned: Sequence[Sequence[Any]]  # (id, job, fire_time, reason, attempt) of each new run
        if dialect.driver_batches(self.connection):
            # Values as the column types write them, so the keys read back compare equal.
            columns = tuple(rows[0])
            values = [[self.writes.bound(c, row[c]) for c in columns] for row in rows]
            returned = dialect.insert_runs(self.connection, columns, values)
            fire_time = columns.index("fire_time")
            keys = [
                _key(row["job"], written[fire_time], row["reason"], row["attempt"], row["retry_of"])
                for row, written in zip(rows, values, strict=True)
            ]
        else:
            returned = list(self.connection.execute(self._insert_runs, rows))
            keys = [
                _key(r["job"], r["fire_time"], r["reason"], r["attempt"], r["retry_of"])
                for r in rows
            ]
        # Rows are inserted in the order given, so ids ascend in that order; the rows a
        # conflict skipped are recognised by their key (RETURNING reports only inserted rows).
        returned = sorted(returned, key=lambda row: int(row[0]))
        created_keys = {_key(*row[1:]) for row in returned}
        inserted: list[int] = []
        claimed: set[RunKey] = set()
        for position, run in enumerate(pending):
            if run.fire_time is None and run.retry_of is None:
                inserted.append(position)
                continue
            key = keys[position]
            if key in created_keys and key not in claimed:
                claimed.add(key)
                inserted.append(position)
        if len(inserted) != len(returned):
            raise StoreError(
                f"the database reported {len(returned)} new runs where {len(inserted)} were "
                "expected; nothing was written"
            )
        ids: list[int | None] = [None] * len(pending)
        for position, row in zip(inserted, returned, strict=True):
            if _key(*row[1:]) != keys[position]:
                raise StoreError(
                    "the database created runs in another order than given; nothing was written"
                )
            ids[position] = int(row[0])
        return ids

    def _insert_with_spawn_keys(self, pending: Sequence[NewRun]) -> list[int | None]:
        """Spawned runs with a key go in apart (`sql_spawn`), the others as usual."""
        keyed = [p for p, run in enumerate(pending) if run.spawn_key is not None]
        rest = [p for p, run in enumerate(pending) if run.spawn_key is None]
        ids: list[int | None] = [None] * len(pending)
        if rest:
            created = self.insert_runs([pending[p] for p in rest])
            for position, run_id in zip(rest, created, strict=True):
                ids[position] = run_id
        keyed_runs = [pending[p] for p in keyed]
        self._require_jobs(keyed_runs)
        rows = [new_run_row(run) for run in keyed_runs]
        created = sql_spawn.insert_keyed(self.connection, keyed_runs, rows)
        for position, run_id in zip(keyed, created, strict=True):
            ids[position] = run_id
        return ids

    def _require_jobs(self, pending: Sequence[NewRun]) -> None:
        wanted = [
            run.job
            for run in pending
            if run.job in self.removed
            or (run.job not in self.known_jobs and run.job not in self.learned)
        ]
        if not wanted:
            return
        found = set(
            self.connection.execute(select(jobs.c.name).where(jobs.c.name.in_(set(wanted))))
            .scalars()
            .all()
        )
        self.learned.update(found)
        for name in wanted:
            if name not in found:
                raise UnknownJobError(name)

    # -- changing runs and jobs -------------------------------------------------------------

    def _other(self, operation: Operation) -> Any:
        if isinstance(operation, Claim):
            return self.writes.claim(operation)
        if isinstance(operation, Finish):
            return self.writes.finish(operation)
        if isinstance(operation, Progress):
            return self.writes.progress(operation)
        if isinstance(operation, RequestCancel):
            return self._request_cancel(operation)
        if isinstance(operation, InterruptRuns):
            return self._interrupt(operation)
        if isinstance(operation, ReapNode):
            self.writes.forget_leases()
            return sql_fencing.reap(self.connection, operation, self._interrupt, self.insert_runs)
        if isinstance(operation, UpdateJob):
            return self._update_job(operation)
        if isinstance(operation, AddJob):
            return self._add_job(operation)
        if isinstance(operation, RemoveJob):
            return self._remove_job(operation)
        if isinstance(operation, Chain):
            return sql_chains.chain(self.connection, operation, self.insert_runs, self.succeeded)
        raise StoreError(f"{operation!r} is not a store operation")

    def _request_cancel(self, cancel: RequestCancel) -> RunStatus | None:
        # FOR UPDATE holds the row on PostgreSQL until the update below (SQLite holds the whole
        # database already and leaves the clause out).
        status = self.connection.execute(
            select(runs.c.status).where(runs.c.id == cancel.run_id).with_for_update()
        ).scalar()
        if status is None:
            return None
        before = RunStatus(status)
        row = update(runs).where(runs.c.id == cancel.run_id)
        if before is RunStatus.QUEUED:
            self.connection.execute(
                row.values(
                    status=RunStatus.CANCELLED.value, finished_at=cancel.at, note=cancel.note
                )
            )
        elif before is RunStatus.RUNNING:
            self.connection.execute(row.values(cancel_requested=True, note=cancel.note))
        return before

    def _interrupt(self, interrupt: InterruptRuns) -> list[int]:
        if not interrupt.nodes:
            return []
        changed = self.connection.execute(
            update(runs)
            .where(runs.c.status == RunStatus.RUNNING.value)
            .where(runs.c.node.in_(list(interrupt.nodes)))
            .values(
                status=RunStatus.INTERRUPTED.value,
                finished_at=interrupt.at,
                note=interrupt.note,
            )
            .returning(runs.c.id)
        )
        return sorted(int(run_id) for run_id in changed.scalars())

    def _update_job(self, change: UpdateJob) -> JobRecord | None:
        values: dict[str, Any] = {"updated_at": change.at}
        for field in ("override", "paused", "pause_note", "next_fire_at"):
            value = getattr(change, field)
            if value is not UNSET:
                values[field] = value
        row = self.connection.execute(
            update(jobs).where(jobs.c.name == change.name).values(**values).returning(*jobs.c)
        ).first()
        return None if row is None else job_record(row)

    def _add_job(self, add: AddJob) -> JobRecord | None:
        added = sql_jobs.add_job(self.connection, self._insert_job, add)
        if added is not None:
            self.removed.discard(add.name)
            self.learned.add(add.name)
        return added

    def _remove_job(self, remove: RemoveJob) -> Removal:
        removal, self._removed_runs = sql_jobs.remove_job(self.connection, remove.name)
        if removal is Removal.REMOVED:
            self.learned.discard(remove.name)
            self.removed.add(remove.name)
        return removal


def _key(job: str, fire_time: Any, reason: str, attempt: int, retry_of: Any) -> RunKey:
    """What makes a new run unique: its fire-time key, else the run it retries (a run with
    neither never collides)."""
    if fire_time is None and retry_of is not None:
        return ("", int(retry_of))
    return (job, fire_time, reason, attempt)
