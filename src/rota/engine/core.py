"""The engine: what is due becomes runs, and the worker runs them.

It sleeps until the earliest due time in its heap or until something changes (an admin action, a
finished run); an idle engine does nothing. Every change it makes is one committed store
operation before it is announced. See docs/decisions/0002.
"""

from __future__ import annotations

import asyncio
import functools
import heapq
import itertools
import logging
import os
import socket
import uuid
from collections.abc import Callable, Coroutine, Mapping
from datetime import datetime, timedelta
from typing import Any

from rota.clock import Clock
from rota.engine.context import CaptureHandler
from rota.engine.events import Event, EventBus, EventKind
from rota.engine.jobs import JobDefinition, JobState, effective_settings
from rota.engine.outage import Outage, pause_after
from rota.engine.policies import CatchUp, decide_overlap, plan_catch_up, retry_delay
from rota.engine.worker import QueuedRun, Worker, retry_run
from rota.engine.writer import Writer
from rota.errors import StoreUnavailableError
from rota.store.abc import (
    Enqueue,
    Finish,
    Fire,
    FireResult,
    InterruptRuns,
    NewRun,
    Operation,
    RequestCancel,
    Store,
)
from rota.store.records import NodeRecord, Reason, RunRecord, RunStatus

__all__ = ["Engine"]

log = logging.getLogger("rota.engine")


class Engine:
    """Schedules and runs the jobs of one `Rota` on one asyncio loop."""

    def __init__(
        self,
        store: Store,
        definitions: Mapping[str, JobDefinition],
        clock: Clock,
        *,
        workers: int = 10,
        heartbeat: timedelta = timedelta(seconds=15),
        lease: timedelta = timedelta(seconds=60),
    ) -> None:
        self.store = store
        self.definitions = dict(definitions)
        self.clock = clock
        self.bus = EventBus()
        self.jobs: dict[str, JobState] = {}
        self.node_id = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.writer = Writer(store)
        self.worker: Worker | None = None
        self.started_at: datetime | None = None
        self._workers = workers
        self._heartbeat_every = heartbeat
        self._lease = lease
        self._heap: list[tuple[datetime, int, str]] = []
        self._order = itertools.count()
        self._wake = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._capture = CaptureHandler()
        self._stop_listening: Callable[[], None] | None = None
        self._renewed_at: datetime = clock.now()
        self.outage = Outage(self.node_id, self._back)
        self._others_alive = False
        self._fire_failures = 0

    # -- lifecycle ----------------------------------------------------------------------------

    async def start(self) -> None:
        """Recover from a crash, sync the code's jobs, and start (the store is open)."""
        self._loop = asyncio.get_running_loop()
        now = self.clock.now()
        self.started_at = now
        try:
            await self._register(now)
            self.worker = Worker(self, self._workers)
            await self._reap(now, everything=True)
            await self._sync_jobs(now)
            await self._load_queued()
            self._stop_listening = self.store.listen(self._heard)
        except BaseException:
            self.writer.close()
            raise
        logging.getLogger().addHandler(self._capture)
        # Syncing many jobs can take longer than a lease: renew it before any run starts, so
        # that no other node finds this one dead while it was starting.
        await self._renew(self.clock.now())
        self.worker.start()
        self._spawn(self._schedule(), "rota-scheduler")
        self._spawn(self._beat(), "rota-heartbeat")
        log.info("rota node %s started with %d jobs", self.node_id, len(self.jobs))

    async def stop(self, grace: timedelta) -> None:
        """Stop creating runs; let running ones finish within `grace`, then record them
        interrupted. The store stays open (its owner closes it)."""
        for task in list(self._tasks):
            task.cancel()
        if self._stop_listening is not None:
            self._stop_listening()
        try:
            if self.worker is not None:
                await self.worker.shutdown(grace)
            await self.writer.drain()
            await self.writer.call(self.store.stop_node, self.node_id, self.clock.now())
        finally:
            logging.getLogger().removeHandler(self._capture)
            self.writer.close()
            log.info("rota node %s stopped", self.node_id)

    def _spawn(self, coroutine: Coroutine[Any, Any, Any], name: str) -> None:
        task = asyncio.create_task(coroutine, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("rota task %s failed", task.get_name(), exc_info=task.exception())

    # -- nodes: lease, reaping, polling (docs/decisions/0005) ----------------------------------

    async def _register(self, now: datetime) -> None:
        node = NodeRecord(self.node_id, socket.gethostname(), os.getpid(), now, now)
        await self.writer.call(self.store.register_node, node)
        self._renewed_at = now

    async def _beat(self) -> None:
        while True:
            await self.clock.sleep_until(self.clock.now() + self._heartbeat_every)
            now = self.clock.now()
            if not await self._renew(now):
                continue
            try:
                await self._reap(now)
                if self._others_alive:
                    await self._poll()
            except Exception:
                log.exception("rota could not look for dead nodes and lost wake-ups")

    async def _renew(self, now: datetime) -> bool:
        """Renew this node's lease; whether the store answered. A node whose lease ran out
        holds its queued runs until it has one again."""
        assert self.worker is not None
        try:
            renewed = await self.writer.call(self.store.heartbeat, self.node_id, now)
            if not renewed:
                log.warning(
                    "rota node %s was found dead by another node (its lease ran out); its "
                    "running runs were recorded interrupted there; it registers again",
                    self.node_id,
                )
                await self._register(now)
        except Exception as error:
            self.outage.failed("renewing its lease", error, now)
            if now - self._renewed_at >= self._lease:
                self.worker.hold("its lease ran out while the store could not be reached")
            return False
        self.outage.answered(now)
        self._renewed_at = now
        self.worker.release()
        return True

    async def _reap(self, now: datetime, *, everything: bool = False) -> None:
        """Record the running runs of dead nodes interrupted, retry them per policy, and mark
        the nodes stopped. A node is dead when its lease ran out (measured by the database's
        clock where it has one) or, on this host, its process is gone. With `everything` (at
        start), also the runs of nodes that stopped or were never recorded."""
        database_now = await self.writer.call(self.store.database_now, now)
        nodes = await self.writer.call(self.store.list_nodes)
        alive = {n.id for n in nodes if n.id == self.node_id or self._alive(n, database_now)}
        self._others_alive = len(alive) > 1
        dying = [n.id for n in nodes if n.id not in alive and n.stopped_at is None]
        if not dying and not everything:
            return
        active = await self.writer.call(self.store.active_runs)
        lost = sorted(
            {
                run.node or "?"
                for run in active
                if run.status is RunStatus.RUNNING and run.node not in alive
            }
        )
        for node_id in lost:
            note = f"its node {node_id} stopped without finishing it (found by {self.node_id})"
            (changed,) = await self.writer.apply([InterruptRuns((node_id,), now, note)])
            if not changed:
                continue  # another node reaped it first
            log.warning("node %s died: %d runs recorded interrupted", node_id, len(changed))
            # Only the runs this transaction changed: two nodes reaping at once never both
            # retry a run. (Were this node to die before the retries commit, those runs would
            # stay interrupted without a retry.)
            mine = set(changed)
            await self._retry_interrupted([r for r in active if r.id in mine], now)
        for node_id in dying:
            await self.writer.call(self.store.stop_node, node_id, now)

    def _back(self) -> None:
        """The store answers again after failing: put right what broken writes left."""
        self._call_soon(self._resync())

    async def _resync(self) -> None:
        """A write that broke mid-commit may have committed: fire times whose runs this node
        does not hold, or a claim recorded that it does not know of. Queued runs are taken up;
        runs recorded running here that do not run here are recorded interrupted and retried."""
        assert self.worker is not None
        now = self.clock.now()
        try:
            await self._load_queued()
            # Held when the read is sent: a run that ends later had its finish sent after it.
            held = self.worker.running_ids()
            active = await self.writer.call(self.store.active_runs)
        except Exception as error:
            self.outage.failed("reading what a broken write left", error, now)
            return
        orphans = [
            run
            for run in active
            if run.status is RunStatus.RUNNING
            and run.node == self.node_id
            and run.id not in held
            and not self.worker.is_running(run.id)
        ]
        if not orphans:
            return
        note = "its claim was not confirmed when the store's connection broke; it did not run"
        ended = await self.writer.apply(
            [Finish(r.id, RunStatus.INTERRUPTED, now, note=note) for r in orphans]
        )
        mine = [run for run, done in zip(orphans, ended, strict=True) if done]
        log.warning(
            "rota node %s recorded %d unconfirmed claims interrupted", self.node_id, len(mine)
        )
        await self._retry_interrupted(mine, now)

    async def _poll(self) -> None:
        """What wake-ups may have missed: jobs whose next fire time changed, queued runs this
        node does not hold, and cancels of runs it runs."""
        assert self.worker is not None
        stored = {name: at for at, name in await self.writer.call(self.store.next_fire_times)}
        changed = [
            name
            for name, job in self.jobs.items()
            if stored.get(name) != (None if job.paused else job.next_fire_at)
        ]
        for name in changed:
            await self._reload(name)
        for run in await self.writer.call(self.store.active_runs):
            state = self.jobs.get(run.job)
            if run.status is RunStatus.QUEUED and state is not None:
                self._hold(state, QueuedRun.of_record(run))
            elif run.node == self.node_id and run.cancel_requested:
                note = run.note or "cancelled"
                self.worker.stop_run(run.id, RunStatus.CANCELLED, note, again=False)

    def _heard(self, notice: str) -> None:
        """A notification from the store (any thread): another node queued a run, changed a
        job, or asked for a run to be cancelled."""
        kind, _, value = notice.partition(":")
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        if kind == "run" and value.isdigit():
            self._call_soon(self._run_queued(int(value)))
        elif kind == "job" and value:
            self._call_soon(self._job_changed(value))
        elif kind == "cancel" and self.worker is not None:
            run_id, _, note = value.partition(":")
            if run_id.isdigit():
                stop = functools.partial(
                    self.worker.stop_run, int(run_id), RunStatus.CANCELLED, note, again=False
                )
                loop.call_soon_threadsafe(stop)

    def _alive(self, node: NodeRecord, now: datetime) -> bool:
        if node.stopped_at is not None or node.heartbeat_at < now - self._lease:
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

    async def _retry_interrupted(self, runs: list[RunRecord], now: datetime) -> None:
        """Queue a retry of each interrupted run whose job's retry policy allows one."""
        retries: list[Enqueue] = []
        for run in runs:
            definition = self.definitions.get(run.job)
            if definition is None:
                continue
            if retry_delay(definition.settings.retry, run.attempt, 0.0) is None:
                continue
            retries.append(Enqueue(retry_run(run, now)))
        for retry, run_id in zip(retries, await self.writer.apply(retries), strict=True):
            if run_id is not None:
                self.enqueued(run_id, retry.run)

    async def _sync_jobs(self, now: datetime) -> None:
        """Bring the store in line with the code, and give new or changed jobs a fire time."""
        defaults = {name: d.stored_defaults for name, d in self.definitions.items()}
        synced = await self.writer.call(self.store.sync_jobs, defaults, now)
        starts: list[Fire] = []
        for record in synced.jobs:
            definition = self.definitions.get(record.name)
            if definition is None:
                continue  # kept with its history, shown as missing from code, never fired
            settings = effective_settings(definition.settings, record)
            state = JobState(definition, settings, record.paused, record.next_fire_at)
            self.jobs[record.name] = state
            old = synced.replaced.get(record.name)
            moved = (
                old is not None
                and old.get("schedule") != defaults[record.name]["schedule"]
                and "schedule" not in record.override
            )
            if record.paused or (record.next_fire_at is not None and not moved):
                continue
            first = settings.schedule.next_after(now)
            if first != record.next_fire_at:
                starts.append(Fire(record.name, record.next_fire_at, first))
                state.next_fire_at = first
        for fire, result in zip(starts, await self.writer.apply(starts), strict=True):
            if not result.advanced:
                await self._reload(fire.job)
        self._heap = [
            (state.next_fire_at, next(self._order), name)
            for name, state in self.jobs.items()
            if state.next_fire_at is not None and not state.paused
        ]
        heapq.heapify(self._heap)

    async def _load_queued(self) -> None:
        assert self.worker is not None
        for run in await self.writer.call(self.store.active_runs):
            state = self.jobs.get(run.job)
            if run.status is RunStatus.QUEUED and state is not None:
                self._hold(state, QueuedRun.of_record(run))

    # -- scheduling ---------------------------------------------------------------------------

    def _push(self, name: str, state: JobState) -> None:
        if state.next_fire_at is not None and not state.paused:
            heapq.heappush(self._heap, (state.next_fire_at, next(self._order), name))

    async def _schedule(self) -> None:
        while True:
            self._wake.clear()
            now = self.clock.now()
            due: list[tuple[str, datetime]] = []
            while self._heap and self._heap[0][0] <= now:
                fire_at, _, name = heapq.heappop(self._heap)
                state = self.jobs.get(name)
                if state is not None and state.next_fire_at == fire_at and not state.paused:
                    due.append((name, fire_at))
            if due:
                try:
                    await self._fire(due, now)
                except Exception as error:  # the scheduler must outlive anything a fire meets
                    if not isinstance(error, StoreUnavailableError):
                        log.exception("rota failed while recording due fire times")
                    self.outage.failed("recording due fire times", error, now)
                    self._fire_failures += 1
                    # Safe to try again: a fire that did commit is found advanced and re-read.
                    for name, fire_at in due:
                        heapq.heappush(self._heap, (fire_at, next(self._order), name))
                    await self.clock.sleep_until(now + pause_after(self._fire_failures))
                else:
                    self._fire_failures = 0
                    self.outage.answered(now)
                continue
            waiters: list[asyncio.Task[Any]] = [asyncio.create_task(self._wake.wait())]
            if self._heap:
                waiters.append(asyncio.create_task(self.clock.sleep_until(self._heap[0][0])))
            try:
                await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for waiter in waiters:
                    waiter.cancel()

    async def _fire(self, due: list[tuple[str, datetime]], now: datetime) -> None:
        """Create the runs for due fire times, advancing each job in the same transaction."""
        assert self.worker is not None
        operations: list[Operation] = []
        fires: list[Fire] = []
        for name, fire_at in due:
            fire, cancels = self._plan_fire(name, fire_at, now)
            fires.append(fire)
            operations.extend(cancels)
            operations.append(fire)
        results = await self.writer.apply(operations)
        for operation, result in zip(operations, results, strict=True):
            if isinstance(operation, RequestCancel):
                self._cancelled(operation.run_id, result, operation.note)
            elif isinstance(operation, Fire):
                await self._fired(operation, result)

    def _plan_fire(
        self, name: str, fire_at: datetime, now: datetime
    ) -> tuple[Fire, list[RequestCancel]]:
        state = self.jobs[name]
        settings = state.settings
        schedule = settings.schedule
        plan = plan_catch_up(schedule, fire_at, now, settings.grace, settings.catch_up)
        runs: list[NewRun] = []
        cancels: list[RequestCancel] = []
        fire_times: tuple[datetime, ...]
        if plan.missed == 0:
            fire_times, reason = (fire_at,), Reason.SCHEDULE
            following = schedule.next_after(fire_at)
        else:
            fire_times, reason, following = plan.fire_times, Reason.CATCH_UP, plan.resume_at
            if plan.warning:
                log.warning("job %s: %s", name, plan.warning)
            log.info(
                "job %s missed %d fire times; catch_up=%s", name, plan.missed, settings.catch_up
            )
            if settings.catch_up is CatchUp.NONE:
                missed = "more than 100" if plan.missed > 100 else str(plan.missed)
                note = f"{missed} fire times were missed while no engine ran (catch_up=none)"
                runs.append(NewRun(name, reason, now, RunStatus.SKIPPED, fire_at, note=note))
        running = sorted(state.running)
        queued: list[int | None] = [*sorted(state.queued)]
        for fire_time in fire_times:
            decision = decide_overlap(settings.overlap, settings.max_concurrent, running, queued)
            for run_id in decision.cancel:
                note = "replaced by a newer run (overlap=replace)"
                cancels.append(RequestCancel(run_id, now, note))
            if decision.cancel:
                running, queued = [], []
            if decision.create:
                runs.append(NewRun(name, reason, now, fire_time=fire_time))
                queued.append(None)
            else:
                runs.append(
                    NewRun(name, reason, now, RunStatus.SKIPPED, fire_time, note=decision.reason)
                )
        return Fire(name, fire_at, following, tuple(runs)), cancels

    async def _fired(self, fire: Fire, result: FireResult) -> None:
        state = self.jobs[fire.job]
        if not result.advanced:
            await self._reload(fire.job)  # changed meanwhile (an admin edit, another node)
            return
        state.next_fire_at = fire.next_fire_at
        self._push(fire.job, state)
        for new, run_id in zip(fire.runs, result.run_ids, strict=True):
            if run_id is None:
                continue  # this fire time already had its run
            if new.status is RunStatus.QUEUED:
                self.enqueued(run_id, new)
            else:
                self.publish(EventKind.RUN_SKIPPED, fire.job, run_id, note=new.note)

    async def _reload(self, name: str) -> None:
        record = await self.writer.call(self.store.get_job, name)
        state = self.jobs.get(name)
        if record is None or state is None:
            return
        state.settings = effective_settings(state.definition.settings, record)
        state.paused = record.paused
        state.next_fire_at = record.next_fire_at
        self._push(name, state)
        self._wake.set()

    # -- for the worker -----------------------------------------------------------------------

    def ready_at(self, state: JobState, run: QueuedRun) -> datetime:
        """When a queued run may start: its not-before, and the job's start delay after boot."""
        ready = run.not_before or self.started_at or self.clock.now()
        delay = state.settings.start_delay
        if delay is not None and self.started_at is not None:
            ready = max(ready, self.started_at + delay)
        return ready

    def enqueued(self, run_id: int, new: NewRun) -> None:
        """A queued run was created: hand it to the worker and announce it."""
        assert self.worker is not None
        state = self.jobs.get(new.job)
        if state is not None and self._hold(state, QueuedRun.of(run_id, new)):
            self.publish(EventKind.RUN_QUEUED, new.job, run_id, reason=new.reason.value)

    def _hold(self, state: JobState, run: QueuedRun) -> bool:
        """Queue a run that the store holds as queued, unless this node holds it already,
        queued or running: a notice, a poll and the node's own call may all report one run."""
        assert self.worker is not None
        if run.id in state.queued or self.worker.is_running(run.id):
            return False
        state.queued.add(run.id)
        self.worker.add(run)
        return True

    def publish(self, kind: EventKind, job: str | None, run_id: int | None, **data: Any) -> None:
        """Announce a committed change."""
        self.bus.publish(Event(kind, self.clock.now(), job, run_id, data))

    def _cancelled(self, run_id: int, before: RunStatus | None, note: str) -> None:
        assert self.worker is not None
        if before is RunStatus.RUNNING:
            self.worker.stop_run(run_id, RunStatus.CANCELLED, note)
        elif before is RunStatus.QUEUED:
            run = self.worker.remove_queued(run_id)
            if run is not None:
                self.jobs[run.job].queued.discard(run_id)
                self.publish(EventKind.RUN_FINISHED, run.job, run_id, status="cancelled", note=note)

    # -- notifications from other threads (admin actions written to the store) ----------------

    def notify_job_changed(self, name: str) -> None:
        """A job's settings, pause or next fire time changed in the store."""
        self._call_soon(self._job_changed(name))

    def notify_run_queued(self, run_id: int) -> None:
        """A queued run was created in the store outside the engine."""
        self._call_soon(self._run_queued(run_id))

    def notify_cancel(self, run_id: int, before: RunStatus | None, note: str) -> None:
        """A run was cancelled in the store (`before` is its status then)."""
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._cancelled, run_id, before, note)

    def _call_soon(self, coroutine: Coroutine[Any, Any, None]) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            coroutine.close()
            return
        loop.call_soon_threadsafe(self._spawn, coroutine, "rota-notification")

    async def _job_changed(self, name: str) -> None:
        await self._reload(name)
        self.publish(EventKind.JOB_CHANGED, name, None)

    async def _run_queued(self, run_id: int) -> None:
        assert self.worker is not None
        run = await self.writer.call(self.store.get_run, run_id)
        state = None if run is None else self.jobs.get(run.job)
        if run is None or state is None or run.status is not RunStatus.QUEUED:
            return
        if self._hold(state, QueuedRun.of_record(run)):
            self.publish(EventKind.RUN_QUEUED, run.job, run_id, reason=run.reason.value)
