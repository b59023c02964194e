"""A node among others: its lease, finding dead nodes, hearing and polling for what other nodes
changed, and putting right what a write that broke left behind (docs/decisions/0005, 0007).

The engine owns one `NodeLife`; it holds the lease's state and acts through the node's basis, the
worker, the job table and a `reload` of one job that the scheduler gives it.

The lease is renewed, and the nodes read, through a store thread of the node life's own, not
the writer's queue: a burst of writes must not starve a live node's lease (decision 0007).
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from rota.engine.basis import Basis
from rota.engine.jobs import JobDefinition, JobState
from rota.engine.runs import QueuedRun, retry_run
from rota.engine.worker import Worker
from rota.engine.writer import Writer
from rota.store.abc import Store
from rota.store.operations import (
    Enqueue,
    Finish,
    InterruptRuns,
    Reaped,
    ReapNode,
    retried_by_reap,
)
from rota.store.records import NodeRecord, RunRecord, RunStatus

__all__ = ["NodeLife", "life_of"]

log = logging.getLogger("rota.engine")


class NodeLife:
    """See the module docstring."""

    def __init__(
        self,
        basis: Basis,
        worker: Worker,
        jobs: Mapping[str, JobState],
        definitions: Mapping[str, JobDefinition],
        *,
        reload: Callable[[str], Awaitable[None]],
        spawn: Callable[[Coroutine[Any, Any, None], str], None],
        started_at: datetime,
        heartbeat: timedelta,
        lease: timedelta,
    ) -> None:
        """`reload` reads one job again into the scheduler; `spawn` runs a task the engine
        looks after."""
        self.basis = basis
        self.worker = worker
        self.jobs = jobs
        self.definitions = definitions
        self._reload = reload
        self._spawn = spawn
        self.started_at = started_at
        self.heartbeat = heartbeat
        self.lease = lease
        self.renewed_at: datetime = started_at
        self.others_alive = False
        basis.tenure.lease = lease
        # The lease's own path to the store: renewals and reaping wait for no burst of writes.
        self.lease_writer = Writer(basis.store, name="rota-lease")
        self._checking = asyncio.Lock()
        worker.lease_doubted = self.doubt

    def close(self) -> None:
        """Stop the lease's store thread."""
        self.lease_writer.close()

    async def register(self, now: datetime) -> None:
        """Register this node (again); a new life gets a new lease generation, and the runs of
        the life before, if any, are no longer this node's."""
        host, pid = socket.gethostname(), os.getpid()
        node = NodeRecord(self.basis.node_id, host, pid, self.started_at, now, life=OWN_LIFE)
        # The jobs this node's code defines: what "in code" means to every process.
        names = sorted(self.definitions)
        tenure = self.basis.tenure
        before = tenure.generation
        tenure.generation = await self.lease_writer.call(
            self.basis.store.register_node, node, names
        )
        if before and tenure.generation != before:
            self.worker.abandon(before)
        tenure.renewed_at = self.renewed_at = now

    def doubt(self) -> None:
        """The worker found the lease gone or stale: check it with the store now."""
        if not self._checking.locked():
            self._spawn(self.check(), "rota-lease-check")

    async def check(self) -> None:
        """Renew the lease now (once, however many ask at once)."""
        if self._checking.locked():
            return
        async with self._checking:
            await self.renew(self.basis.clock.now())

    async def beat(self) -> None:
        while True:
            await self.basis.clock.sleep_until(self.basis.clock.now() + self.heartbeat)
            now = self.basis.clock.now()
            async with self._checking:
                renewed = await self.renew(now)
            if not renewed:
                continue
            try:
                await self.reap(now)
                if self.others_alive:
                    await self.poll()
            except Exception:
                log.exception("rota could not look for dead nodes and lost wake-ups")

    async def renew(self, now: datetime) -> bool:
        """Renew this node's lease; whether the store answered. A node whose lease ran out
        holds its queued runs until it has one again."""
        tenure = self.basis.tenure
        try:
            renewed = await self.lease_writer.call(
                self.basis.store.heartbeat, self.basis.node_id, now, tenure.generation or None
            )
            if not renewed:
                log.warning(
                    "rota node %s was found dead by another node (its lease ran out); its "
                    "running runs were recorded interrupted there; it stops them and "
                    "registers again",
                    self.basis.node_id,
                )
                self.worker.abandon(tenure.generation)
                await self.register(now)
        except Exception as error:
            self.basis.outage.failed("renewing its lease", error, now)
            if now - self.renewed_at >= self.lease:
                self.worker.hold("its lease ran out while the store could not be reached")
            return False
        self.basis.outage.answered(now)
        tenure.renewed_at = self.renewed_at = now
        self.worker.release()
        self.worker.renewed()
        return True

    async def reap(self, now: datetime, *, everything: bool = False) -> None:
        """Record the running runs of dead nodes interrupted, retry them per policy, and mark
        the nodes stopped. A node is dead when its lease ran out (measured by the database's
        clock where it has one) or, on this host, its process is gone. With `everything` (at
        start), also the runs of nodes that stopped or were never recorded."""
        store = self.basis.store
        database_now = await self.lease_writer.call(store.database_now, now)
        nodes = await self.lease_writer.call(store.list_nodes)
        alive = {n.id for n in nodes if n.id == self.basis.node_id or self.alive(n, database_now)}
        self.others_alive = len(alive) > 1
        dying = [n for n in nodes if n.id not in alive and n.stopped_at is None]
        attempts = {name: state.settings.retry.attempts for name, state in self.jobs.items()}
        for node in dying:
            note = (
                f"its node {node.id} stopped without finishing it (found by {self.basis.node_id})"
            )
            # Judged again in the reaping transaction: a node that renewed its lease since it
            # was read here (busy, not dead) is left alone. A process found gone is dead
            # whatever its lease says.
            expired = node.stopped_at is not None or node.heartbeat_at < database_now - self.lease
            expired_before = database_now - self.lease if expired else None
            reap = ReapNode(node.id, node.generation, now, note, expired_before, attempts)
            # Through the writer, not the lease's thread: on PostgreSQL a reap waits for the
            # dead node's open transaction, if it was paused in one, and this node's own
            # renewals must not wait with it.
            (reaped,) = await self.basis.writer.apply([reap])
            self._took(node.id, reaped)
        if not everything:
            return
        # At start: the runs of nodes that stopped, or were never recorded.
        active = await self.basis.writer.call(store.active_runs)
        known = {n.id for n in nodes if n.stopped_at is None}
        lost = sorted(
            {
                run.node or "?"
                for run in active
                if run.status is RunStatus.RUNNING and run.node not in alive | known
            }
        )
        for node_id in lost:
            note = (
                f"its node {node_id} stopped without finishing it (found by {self.basis.node_id})"
            )
            # Interrupted and retried in one transaction: no failure between the two can leave
            # a run interrupted without its retry. Two nodes sweeping at once never both retry
            # a run: one retry per attempt is the store's unique key (decision 0007).
            theirs = [
                r for r in active if r.status is RunStatus.RUNNING and (r.node or "?") == node_id
            ]
            retries = await self._retries(theirs, now)
            changed, *ids = await self.basis.writer.apply(
                [InterruptRuns((node_id,), now, note), *retries]
            )
            self._take_retries(retries, ids)
            if changed:
                log.warning("node %s died: %d runs recorded interrupted", node_id, len(changed))

    def _took(self, node_id: str, reaped: Reaped) -> None:
        """Take up the retries of a node this node reaped."""
        if not reaped.interrupted:
            return  # another node reaped it first, or it renewed its lease meanwhile
        log.warning(
            "node %s died: %d runs recorded interrupted, %d retried",
            node_id,
            len(reaped.interrupted),
            len(reaped.retries),
        )
        for run_id, run in reaped.retries:
            self.worker.take(QueuedRun.of(run_id, run))

    def back(self) -> None:
        """The store answers again after failing: put right what broken writes left."""
        self._spawn(self.resync(), "rota-resync")

    async def resync(self) -> None:
        """A write that broke mid-commit may have committed: fire times whose runs this node
        does not hold, or a claim recorded that it does not know of. Queued runs are taken up;
        runs recorded running here that do not run here are recorded interrupted and retried."""
        now = self.basis.clock.now()
        try:
            await self.worker.take_stored()
            # Held when the read is sent: a run that ends later had its finish sent after it.
            held = self.worker.running_ids()
            active = await self.basis.writer.call(self.basis.store.active_runs)
        except Exception as error:
            self.basis.outage.failed("reading what a broken write left", error, now)
            return
        orphans = [
            run
            for run in active
            if run.status is RunStatus.RUNNING
            and run.node == self.basis.node_id
            and run.id not in held
            and not self.worker.is_running(run.id)
        ]
        if not orphans:
            return
        note = "its claim was not confirmed when the store's connection broke; it did not run"
        ended = await self.basis.writer.apply(
            [Finish(r.id, RunStatus.INTERRUPTED, now, note=note) for r in orphans]
        )
        mine = [run for run, done in zip(orphans, ended, strict=True) if done]
        log.warning(
            "rota node %s recorded %d unconfirmed claims interrupted",
            self.basis.node_id,
            len(mine),
        )
        await self.retry_interrupted(mine, now)

    async def poll(self) -> None:
        """What wake-ups may have missed: jobs whose next fire time changed, queued runs this
        node does not hold, and cancels of runs it runs."""
        stored = {
            name: at for at, name in await self.basis.writer.call(self.basis.store.next_fire_times)
        }
        changed = [
            name
            for name, job in self.jobs.items()
            if stored.get(name) != (None if job.paused else job.next_fire_at)
        ]
        for name in changed:
            await self._reload(name)
        for run in await self.basis.writer.call(self.basis.store.active_runs):
            if run.status is RunStatus.QUEUED:
                self.worker.take(QueuedRun.of_record(run))
            elif run.node == self.basis.node_id and run.cancel_requested:
                note = run.note or "cancelled"
                self.worker.stop_run(run.id, RunStatus.CANCELLED, note, again=False)

    def alive(self, node: NodeRecord, now: datetime) -> bool:
        if node.stopped_at is not None or node.heartbeat_at < now - self.lease:
            return False
        if node.host != socket.gethostname():
            return True
        if node.pid == os.getpid():
            # This process, or an earlier one with its pid (pid 1 in a container restarted).
            return node.life is None or OWN_LIFE is None or node.life == OWN_LIFE
        try:
            os.kill(node.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            pass
        # The pid lives; is it still the node's process, or a new one that reuses the pid?
        current = life_of(node.pid)
        return node.life is None or current is None or current == node.life

    async def retry_interrupted(self, runs: list[RunRecord], now: datetime) -> None:
        """Queue a retry of each interrupted run whose job's retry policy allows one: as the
        reaper does, the attempts a limiter deferred do not count (read only for a run whose
        attempt number alone says no)."""
        retries = await self._retries(runs, now)
        self._take_retries(retries, await self.basis.writer.apply(retries))

    async def _retries(self, runs: list[RunRecord], now: datetime) -> list[Enqueue]:
        """The retries of `runs` (interrupted) that their jobs' retry policies allow."""
        allowed = {r.id: s.settings.retry.attempts for r in runs if (s := self.jobs.get(r.job))}
        if not allowed:
            return []
        kept = await self.basis.writer.call(_retried, runs, allowed, self.basis.store)
        return [Enqueue(retry_run(run, now)) for run in kept]

    def _take_retries(self, retries: list[Enqueue], ids: list[Any]) -> None:
        for retry, run_id in zip(retries, ids, strict=True):
            if isinstance(run_id, int):
                self.worker.take(QueuedRun.of(run_id, retry.run))


def _retried(runs: list[RunRecord], allowed: Mapping[int, int], store: Store) -> list[RunRecord]:
    """The interrupted `runs` to retry, of jobs allowed `allowed[run.id]` attempts: on the
    writer thread, which reads the earlier attempts of those that need it."""
    return [
        run
        for run in runs
        if run.id in allowed and retried_by_reap(run, allowed[run.id], store.get_run)
    ]


def life_of(pid: int) -> str | None:
    """Which process `pid` is, beyond its number: the host's boot id and the process's start
    time (Linux's /proc); None where the OS does not tell. Two processes with one pid on one
    host differ in it, as a container's pid 1 before and after a restart does."""
    try:
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: count after its last ")".
    fields = stat.rpartition(")")[2].split()
    if len(fields) < 20:
        return None
    return f"{boot}:{fields[19]}"  # field 22, the start time in clock ticks since boot


OWN_LIFE = life_of(os.getpid())
"""This process's life (see `life_of`), written on its node's row."""
