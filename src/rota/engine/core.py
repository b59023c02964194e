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
from collections.abc import Callable, Collection, Coroutine, Mapping
from datetime import datetime, timedelta
from typing import Any

from rota.clock import Clock
from rota.engine.context import CaptureHandler
from rota.engine.events import Event, EventBus, EventKind
from rota.engine.jobs import JobDefinition, JobState, effective_settings, load_target
from rota.engine.nodes import NodeLife
from rota.engine.outage import Outage, pause_after
from rota.engine.policies import CatchUp, decide_overlap, plan_catch_up
from rota.engine.runs import QueuedRun
from rota.engine.settings import JobSettings
from rota.engine.supervise import keep_running
from rota.engine.worker import Worker
from rota.engine.writer import Writer
from rota.errors import RotaError, SettingError
from rota.schedules import Once
from rota.store.abc import (
    Fire,
    FireResult,
    NewRun,
    Operation,
    RequestCancel,
    Store,
)
from rota.store.records import JobKind, JobRecord, Reason, RunStatus

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
        self.nodes = NodeLife(self, heartbeat, lease)
        self._heap: list[tuple[datetime, int, str]] = []
        self._order = itertools.count()
        self._wake = asyncio.Event()
        self.loop: asyncio.AbstractEventLoop | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._capture = CaptureHandler()
        self._stop_listening: Callable[[], None] | None = None
        self.outage = Outage(self.node_id, lambda: self.nodes.back())
        self._fire_failures = 0

    # -- lifecycle ----------------------------------------------------------------------------

    async def start(self) -> None:
        """Recover from a crash, sync the code's jobs, and start (the store is open)."""
        self.loop = asyncio.get_running_loop()
        now = self.clock.now()
        self.started_at = now
        try:
            await self.nodes.register(now)
            self.worker = Worker(self, self._workers)
            await self.nodes.reap(now, everything=True)
            await self._sync_jobs(now)
            await self.load_queued()
            self._stop_listening = self.store.listen(self.nodes.heard)
        except BaseException:
            self.writer.close()
            raise
        logging.getLogger().addHandler(self._capture)
        # Syncing many jobs can take longer than a lease: renew it before any run starts, so
        # that no other node finds this one dead while it was starting.
        await self.nodes.renew(self.clock.now())
        self.worker.start()
        self._spawn(keep_running("rota-scheduler", self._schedule, self.clock), "rota-scheduler")
        self._spawn(keep_running("rota-heartbeat", self.nodes.beat, self.clock), "rota-heartbeat")
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

    async def _sync_jobs(self, now: datetime, names: Collection[str] | None = None) -> None:
        """Bring the store in line with the code (all jobs, or `names`), load the jobs added at
        run time, and give new or changed jobs a fire time."""
        wanted = self.definitions if names is None else {n: self.definitions[n] for n in names}
        defaults = {name: d.stored_defaults for name, d in wanted.items()}
        internal = {n for n, d in wanted.items() if d.kind is JobKind.INTERNAL}
        synced = await self.writer.call(
            functools.partial(self.store.sync_jobs, internal=internal), defaults, now
        )
        starts: list[Fire] = []
        for record in synced.jobs:
            if names is not None and record.name not in names:
                continue
            definition = self._definition_of(record)
            if definition is None:
                continue  # orphaned (its code is gone) or not importable: never fired here
            settings = effective_settings(definition.settings, record)
            state = JobState(definition, settings, record.paused, record.next_fire_at)
            self.jobs[record.name] = state
            old = synced.replaced.get(record.name)
            new = record.created_at == now
            moved = (
                old is not None
                and old.get("schedule") != defaults[record.name]["schedule"]
                and "schedule" not in record.override
            )
            if record.paused or (record.next_fire_at is not None and not moved):
                continue
            first = settings.schedule.next_after(now)
            if first is None and (new or moved) and isinstance(settings.schedule, Once):
                raise SettingError(
                    "schedule",
                    settings.schedule.text,
                    f"job {record.name!r} would fire once at a time that has passed",
                )
            if first != record.next_fire_at:
                starts.append(Fire(record.name, record.next_fire_at, first))
                state.next_fire_at = first
        for fire, result in zip(starts, await self.writer.apply(starts), strict=True):
            if not result.advanced:
                await self.reload(fire.job)
        for state_name, state in self.jobs.items():
            if names is None or state_name in names:
                self._push(state_name, state)

    def _definition_of(self, record: JobRecord) -> JobDefinition | None:
        """The function behind a stored job: this node's code, or a run-time job's import."""
        if record.kind is JobKind.RUNTIME:
            if record.name in self.definitions:
                raise SettingError(
                    "job name",
                    record.name,
                    f"a job named {record.name!r} was added at run time; remove it "
                    "(rota.remove_job) or rename the job in the code",
                )
            try:
                function = load_target(record.target)
                settings = JobSettings().with_values(record.defaults)
                return JobDefinition.create(record.name, function, settings, kind=JobKind.RUNTIME)
            except RotaError as error:
                log.error("rota cannot run job %s added at run time: %s", record.name, error)
                return None
        return self.definitions.get(record.name)

    async def add_definition(self, definition: JobDefinition) -> None:
        """A job registered in code after start: store it, schedule it, and register it."""
        self.definitions[definition.name] = definition
        await self._sync_jobs(self.clock.now(), {definition.name})
        await self.nodes.register(self.clock.now())
        self._wake.set()

    async def load_queued(self) -> None:
        assert self.worker is not None
        for run in await self.writer.call(self.store.active_runs):
            state = self.jobs.get(run.job)
            if run.status is RunStatus.QUEUED and state is not None:
                self.take_queued(state, QueuedRun.of_record(run))

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
                runs.append(NewRun(name, reason, now, fire_time=fire_time, args=settings.args))
                queued.append(None)
            else:
                runs.append(
                    NewRun(name, reason, now, RunStatus.SKIPPED, fire_time, note=decision.reason)
                )
        return Fire(name, fire_at, following, tuple(runs)), cancels

    async def _fired(self, fire: Fire, result: FireResult) -> None:
        state = self.jobs[fire.job]
        if not result.advanced:
            await self.reload(fire.job)  # changed meanwhile (an admin edit, another node)
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

    async def reload(self, name: str) -> None:
        """Read a job again after a change elsewhere: settings, pause, next fire time; a job
        added at run time is loaded, a removed one dropped."""
        record = await self.writer.call(self.store.get_job, name)
        state = self.jobs.get(name)
        if record is None:
            self.jobs.pop(name, None)  # removed: its heap entries find no state
            return
        if state is None:
            definition = self._definition_of(record)
            if definition is None:
                return
            settings = effective_settings(definition.settings, record)
            state = JobState(definition, settings, record.paused, record.next_fire_at)
            self.jobs[name] = state
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
        if state is not None and self.take_queued(state, QueuedRun.of(run_id, new)):
            self.publish(EventKind.RUN_QUEUED, new.job, run_id, reason=new.reason.value)

    def take_queued(self, state: JobState, run: QueuedRun) -> bool:
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

    # -- notices from the store (admin actions, other nodes) ---------------------------------

    def call_soon(self, coroutine: Coroutine[Any, Any, None]) -> None:
        loop = self.loop
        if loop is None or loop.is_closed():
            coroutine.close()
            return
        loop.call_soon_threadsafe(self._spawn, coroutine, "rota-notification")

    async def job_changed(self, name: str) -> None:
        await self.reload(name)
        self.publish(EventKind.JOB_CHANGED, name, None)

    async def run_queued(self, run_id: int) -> None:
        assert self.worker is not None
        run = await self.writer.call(self.store.get_run, run_id)
        state = None if run is None else self.jobs.get(run.job)
        if run is None or state is None or run.status is not RunStatus.QUEUED:
            return
        if self.take_queued(state, QueuedRun.of_record(run)):
            self.publish(EventKind.RUN_QUEUED, run.job, run_id, reason=run.reason.value)
