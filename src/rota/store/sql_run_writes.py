"""The writes a node makes about runs it takes and runs: claims, finishes and progress, each
refused (`LEASE_LOST`) when made under a lease that no longer holds.

Part of a `rota.store.sql_apply.Transaction`, on its connection; claims and finishes of one
transaction are written together where SQL allows (a busy dispatcher claims its picks at once).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, select, update

from rota.store import dialect, sql_fencing
from rota.store.operations import LEASE_LOST, UNSET, Claim, Finish, Lease, LeaseLost, Progress
from rota.store.records import ACTIVE, RunStatus
from rota.store.schema import runs

__all__ = ["RunWrites"]

_ACTIVE = sorted(status.value for status in ACTIVE)
_FINISH_FIELDS = (
    "note",
    "error",
    "traceback",
    "log",
    "progress_done",
    "progress_total",
    "progress_note",
)


class RunWrites:
    """Claims, finishes and progress on `connection`, which is in a write transaction; the
    leases it reads are held for the transaction (`forget_leases` after one changed)."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self._leases: dict[Lease, bool] = {}  # leases read in this transaction
        self._processors: dict[str, Callable[[Any], Any] | None] = {}

    def forget_leases(self) -> None:
        """Read leases afresh: one may have changed (a node was reaped)."""
        self._leases.clear()

    def holds(self, lease: Lease) -> bool:
        """Whether `lease` still holds (read once per transaction)."""
        if lease not in self._leases:
            self._leases[lease] = sql_fencing.lease_holds(self.connection, lease)
        return self._leases[lease]

    def _fenced(self, claim: Claim) -> bool:
        """Whether a claim is refused: made under a lease that no longer holds."""
        return claim.generation is not None and not self.holds(Lease(claim.node, claim.generation))

    def claims(self, claims: Sequence[Claim]) -> list[bool | LeaseLost]:
        """Claim runs, with the same results as `claim` one by one."""
        results: list[bool | LeaseLost] = [LEASE_LOST] * len(claims)
        allowed = [(i, claim) for i, claim in enumerate(claims) if not self._fenced(claim)]
        if any(claim.limit is not None for _, claim in allowed):
            # Each against its job's running runs, one after another: a claim earlier in this
            # transaction counts for the next one of the same job.
            for index, claim in allowed:
                results[index] = self.claim(claim)
            return results
        fast = dialect.driver_batches(self.connection)
        if len(allowed) == 1 and not fast:
            index, claim = allowed[0]
            results[index] = self.claim(claim)
            return results
        # One statement per (node, instant, generation): a dispatcher claims its picks together.
        claimed: set[int] = set()
        groups: dict[tuple[str, datetime, int | None], list[int]] = {}
        for _, claim in allowed:
            groups.setdefault((claim.node, claim.at, claim.generation), []).append(claim.run_id)
        for (node, at, generation), ids in groups.items():
            if fast:
                claimed |= dialect.claim_many(self.connection, ids, node, self.time(at), generation)
                continue
            rows = self.connection.execute(
                update(runs)
                .where(runs.c.id.in_(ids), runs.c.status == RunStatus.QUEUED.value)
                .values(
                    status=RunStatus.RUNNING.value,
                    node=node,
                    started_at=at,
                    generation=generation,
                )
                .returning(runs.c.id)
            )
            claimed.update(row[0] for row in rows)
        for index, claim in allowed:
            results[index] = claim.run_id in claimed
            claimed.discard(claim.run_id)  # a second claim of the same run finds it running
        return results

    def finishes(self, finishes: Sequence[Finish]) -> list[bool | LeaseLost]:
        """Finish runs, with the same results as `finish` one by one."""
        fast = dialect.driver_batches(self.connection)
        if len(finishes) == 1 and not fast:
            return [self.finish(finishes[0])]
        ids = [finish.run_id for finish in finishes]
        # (status, node, generation) of each active run among them.
        active: dict[int, tuple[Any, ...]]
        if fast:
            active = dialect.active_among(self.connection, ids)
        else:
            # The updates below are unconditional, so the rows read active must stay so until
            # then: FOR UPDATE on PostgreSQL (another node may finish or interrupt one
            # meanwhile); SQLite's write lock holds the whole database already.
            active = {
                row[0]: tuple(row[1:])
                for row in self.connection.execute(
                    select(runs.c.id, runs.c.status, runs.c.node, runs.c.generation)
                    .where(runs.c.id.in_(ids), runs.c.status.in_(_ACTIVE))
                    .with_for_update()
                )
            }
        results: list[bool | LeaseLost] = []
        shapes: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        for finish in finishes:
            found = active.pop(finish.run_id, None)  # a second finish finds it finished
            owner = finish.owner
            ok: bool | LeaseLost = found is not None
            if owner is not None and (
                found is None
                or tuple(found) != (RunStatus.RUNNING.value, owner.node, owner.generation)
            ):
                ok = False if self.holds(owner) else LEASE_LOST
            results.append(ok)
            if ok:
                # Bind names must differ from column names in an UPDATE's SET clause.
                values = {f"v_{name}": value for name, value in _finish_values(finish).items()}
                values["v_id"] = finish.run_id
                shapes.setdefault(tuple(sorted(values)), []).append(values)
        for shape, rows in shapes.items():
            names = tuple(name for name in shape if name != "v_id")
            if fast:
                columns = tuple(name[2:] for name in names)
                ordered = [
                    [self.time(r[n]) if n == "v_finished_at" else r[n] for n in names] + [r["v_id"]]
                    for r in rows
                ]
                dialect.update_many(self.connection, columns, ordered)
                continue
            bound: dict[str, Any] = {name[2:]: bindparam(name) for name in names}
            self.connection.execute(
                update(runs).where(runs.c.id == bindparam("v_id")).values(**bound), rows
            )
        return results

    def time(self, value: datetime | None) -> Any:
        """A time as the column type writes it (the driver-SQL path must store the same)."""
        return self.bound("started_at", value)

    def bound(self, column: str, value: Any) -> Any:
        """A value of a `runs` column as its type writes it: times as UTC text, JSON as text."""
        if column not in self._processors:
            # The dialect's own implementation of the type: the generic one would hand SQLite a
            # datetime object, which the sqlite3 module formats differently (and deprecates).
            sql_dialect = self.connection.dialect
            kind = runs.c[column].type.dialect_impl(sql_dialect)
            self._processors[column] = kind.bind_processor(sql_dialect)
        processor = self._processors[column]
        return value if processor is None else processor(value)

    def claim(self, claim: Claim) -> bool | LeaseLost:
        """Mark a queued run running on the claiming node; whether it was queued."""
        if self._fenced(claim):
            return LEASE_LOST
        if claim.limit is not None:
            return dialect.claim_within_limit(
                self.connection,
                claim.run_id,
                claim.node,
                self.time(claim.at),
                claim.limit,
                claim.generation,
            )
        changed = self.connection.execute(
            update(runs)
            .where(runs.c.id == claim.run_id, runs.c.status == RunStatus.QUEUED.value)
            .values(
                status=RunStatus.RUNNING.value,
                node=claim.node,
                started_at=claim.at,
                generation=claim.generation,
            )
        ).rowcount
        return changed == 1

    def _owned(self, row: Any, owner: Lease | None) -> Any:
        """`row` (an UPDATE of one run) limited to a run running under `owner`, if given."""
        if owner is None:
            return row
        return row.where(
            runs.c.status == RunStatus.RUNNING.value,
            runs.c.node == owner.node,
            runs.c.generation == owner.generation,
        )

    def _refused(self, owner: Lease | None) -> bool | LeaseLost:
        """The result of a write under `owner` that changed nothing."""
        return False if owner is None or self.holds(owner) else LEASE_LOST

    def finish(self, finish: Finish) -> bool | LeaseLost:
        """Record an active run's end; whether it was active (and its owner's)."""
        row = update(runs).where(runs.c.id == finish.run_id, runs.c.status.in_(_ACTIVE))
        changed = self.connection.execute(
            self._owned(row, finish.owner).values(**_finish_values(finish))
        ).rowcount
        return True if changed == 1 else self._refused(finish.owner)

    def progress(self, progress: Progress) -> bool | LeaseLost:
        """Record a running run's progress; whether it was running (and its owner's)."""
        values: dict[str, Any] = {
            "progress_done": progress.done,
            "progress_total": progress.total,
            "progress_note": progress.note,
        }
        if progress.log is not UNSET:
            values["log"] = progress.log
        row = update(runs).where(
            runs.c.id == progress.run_id, runs.c.status == RunStatus.RUNNING.value
        )
        changed = self.connection.execute(
            self._owned(row, progress.owner).values(**values)
        ).rowcount
        return True if changed == 1 else self._refused(progress.owner)


def _finish_values(finish: Finish) -> dict[str, Any]:
    values: dict[str, Any] = {"status": RunStatus(finish.status).value, "finished_at": finish.at}
    for field in _FINISH_FIELDS:
        value = getattr(finish, field)
        if value is not UNSET:
            values[field] = value
    return values
