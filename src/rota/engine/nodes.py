"""A node among others: its lease, finding dead nodes, hearing and polling for what other nodes
changed, and putting right what a write that broke left behind (docs/decisions/0005).

The engine owns one `NodeLife`; it holds the lease's state and acts through the node's basis, the
worker, the job table and a `reload` of one job that the scheduler gives it.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from datetime import datetime, timedelta
from typing import Any

from rota.engine.basis import Basis
from rota.engine.jobs import JobDefinition, JobState
from rota.engine.policies import retry_delay
from rota.engine.runs import QueuedRun, retry_run
from rota.engine.worker import Worker
from rota.store.abc import Enqueue, Finish, InterruptRuns
from rota.store.records import NodeRecord, RunRecord, RunStatus

__all__ = ["NodeLife"]

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

    async def register(self, now: datetime) -> None:
        host, pid = socket.gethostname(), os.getpid()
        node = NodeRecord(self.basis.node_id, host, pid, self.started_at, now)
        # The jobs this node's code defines: what "in code" means to every process.
        names = sorted(self.definitions)
        await self.basis.writer.call(self.basis.store.register_node, node, names)
        self.renewed_at = now

    async def beat(self) -> None:
        while True:
            await self.basis.clock.sleep_until(self.basis.clock.now() + self.heartbeat)
            now = self.basis.clock.now()
            if not await self.renew(now):
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
        try:
            renewed = await self.basis.writer.call(
                self.basis.store.heartbeat, self.basis.node_id, now
            )
            if not renewed:
                log.warning(
                    "rota node %s was found dead by another node (its lease ran out); its "
                    "running runs were recorded interrupted there; it registers again",
                    self.basis.node_id,
                )
                await self.register(now)
        except Exception as error:
            self.basis.outage.failed("renewing its lease", error, now)
            if now - self.renewed_at >= self.lease:
                self.worker.hold("its lease ran out while the store could not be reached")
            return False
        self.basis.outage.answered(now)
        self.renewed_at = now
        self.worker.release()
        return True

    async def reap(self, now: datetime, *, everything: bool = False) -> None:
        """Record the running runs of dead nodes interrupted, retry them per policy, and mark
        the nodes stopped. A node is dead when its lease ran out (measured by the database's
        clock where it has one) or, on this host, its process is gone. With `everything` (at
        start), also the runs of nodes that stopped or were never recorded."""
        database_now = await self.basis.writer.call(self.basis.store.database_now, now)
        nodes = await self.basis.writer.call(self.basis.store.list_nodes)
        alive = {n.id for n in nodes if n.id == self.basis.node_id or self.alive(n, database_now)}
        self.others_alive = len(alive) > 1
        dying = [n.id for n in nodes if n.id not in alive and n.stopped_at is None]
        if not dying and not everything:
            return
        active = await self.basis.writer.call(self.basis.store.active_runs)
        lost = sorted(
            {
                run.node or "?"
                for run in active
                if run.status is RunStatus.RUNNING and run.node not in alive
            }
        )
        for node_id in lost:
            note = (
                f"its node {node_id} stopped without finishing it (found by {self.basis.node_id})"
            )
            (changed,) = await self.basis.writer.apply([InterruptRuns((node_id,), now, note)])
            if not changed:
                continue  # another node reaped it first
            log.warning("node %s died: %d runs recorded interrupted", node_id, len(changed))
            # Only the runs this transaction changed: two nodes reaping at once never both
            # retry a run. (Were this node to die before the retries commit, those runs would
            # stay interrupted without a retry.)
            mine = set(changed)
            await self.retry_interrupted([r for r in active if r.id in mine], now)
        for node_id in dying:
            await self.basis.writer.call(self.basis.store.stop_node, node_id, now)

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
        try:
            os.kill(node.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True

    async def retry_interrupted(self, runs: list[RunRecord], now: datetime) -> None:
        """Queue a retry of each interrupted run whose job's retry policy allows one."""
        retries: list[Enqueue] = []
        for run in runs:
            state = self.jobs.get(run.job)
            if state is None:
                continue
            if retry_delay(state.settings.retry, run.attempt, 0.0) is None:
                continue
            retries.append(Enqueue(retry_run(run, now)))
        for retry, run_id in zip(retries, await self.basis.writer.apply(retries), strict=True):
            if run_id is not None:
                self.worker.take(QueuedRun.of(run_id, retry.run))
