"""`SqlStore`'s `Chain`: count an upstream success on each downstream's edges and create the
downstream's dependency run, in the transaction that recorded the success (decision 0011)."""

from __future__ import annotations

from collections.abc import Callable, Sequence, Set

from sqlalchemy import Connection, insert, select, update

from rota.store.chains import EdgeState, chain_step
from rota.store.operations import Chain, Chained, NewRun
from rota.store.records import ACTIVE, RunStatus
from rota.store.schema import chain_edges, jobs, runs

__all__ = ["chain"]

_ACTIVE = sorted(status.value for status in ACTIVE)


def chain(
    connection: Connection,
    operation: Chain,
    insert_runs: Callable[[Sequence[NewRun]], list[int | None]],
    succeeded: Set[int],
) -> Chained:
    """Carry out `operation` (see `Chain`); `insert_runs` is the transaction's own, and
    `succeeded` the runs its Finishes recorded succeeded."""
    if operation.run_id not in succeeded:
        return Chained()
    found = connection.execute(select(runs.c.job).where(runs.c.id == operation.run_id)).first()
    if found is None or found[0] != operation.job:
        return Chained()
    created: list[tuple[int, NewRun, dict[str, int]]] = []
    replaces: list[int] = []
    for name in operation.downstream:
        # The downstream's row locked (PostgreSQL): two upstreams that succeed at once on two
        # nodes take turns here, and the second reads the first's edge after its commit.
        row = connection.execute(
            select(jobs.c.defaults, jobs.c.override, jobs.c.paused)
            .where(jobs.c.name == name)
            .with_for_update()
        ).first()
        if row is None:
            continue
        edges = {
            upstream: EdgeState(success, consumed)
            for upstream, success, consumed in connection.execute(
                select(
                    chain_edges.c.upstream, chain_edges.c.last_success, chain_edges.c.last_consumed
                ).where(chain_edges.c.downstream == name)
            )
        }
        active = [
            (int(run_id), RunStatus(status))
            for run_id, status in connection.execute(
                select(runs.c.id, runs.c.status)
                .where(runs.c.job == name, runs.c.status.in_(_ACTIVE))
                .order_by(runs.c.id)
            )
        ]
        step = chain_step(
            name,
            (row[0], row[1], bool(row[2])),
            edges,
            operation.job,
            operation.run_id,
            operation.at,
            active,
        )
        if step is None:
            continue
        for upstream, state in step.edges.items():
            values = {"last_success": state.last_success, "last_consumed": state.last_consumed}
            if upstream in edges:
                connection.execute(
                    update(chain_edges)
                    .where(chain_edges.c.downstream == name, chain_edges.c.upstream == upstream)
                    .values(**values)
                )
            else:
                connection.execute(
                    insert(chain_edges).values(downstream=name, upstream=upstream, **values)
                )
        if step.run is not None:
            (run_id,) = insert_runs([step.run])
            if run_id is not None:
                created.append((run_id, step.run, step.upstream_runs))
                replaces.extend(step.replaces)
    return Chained(tuple(created), tuple(replaces))
