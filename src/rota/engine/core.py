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
import threading
import uuid
from collections.abc import Callable, Collection, Coroutine, Mapping
from datetime import datetime, timedelta
from typing import Any

from rota.clock import Clock, StepAware
from rota.engine.basis import Basis
from rota.engine.chains import Chains, check_code_chains
from rota.engine.context import RecordCapture
from rota.engine.held import HeldNotices
from rota.engine.jobs import JobDefinition, JobState, effective_settings, load_target
from rota.engine.lag import Lag
from rota.engine.limiter import Limiters, LimiterSpec
from rota.engine.nodes import NodeLife
from rota.engine.outage import Outage, pause_after
from rota.engine.parameters import setting_values
from rota.engine.policies import CatchUp, OverlapDecision, decide_overlap, plan_catch_up
from rota.engine.runs import QueuedRun
from rota.engine.settings import JobSettings
from rota.engine.shedding import announced_or_quiet, coalesced_fire, set_aside, take_back
from rota.engine.spawning import Spawns
from rota.engine.supervise import keep_running
from rota.engine.worker import Worker
from rota.engine.writer import Writer
from rota.errors import RotaError, SettingError
from rota.schedules import Interval, Once
from rota.store.abc import Store
from rota.store.operations import Fire, FireResult, NewRun, Operation, RequestCancel, SyncResult
from rota.store.records import JobKind, JobRecord, Reason, RunStatus

__all__ = ["Engine"]

log = logging.getLogger("rota.engine")

# At most this many fire times are written in one transaction. More that are due wait for the
# next one, so that claims and finishes queued meanwhile are written in between (10,000 fires
# in one transaction held every claim and finish back for more than a second on SQLite).
FIRE_BATCH = 200


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
        limiters: Mapping[str, LimiterSpec] | None = None,
    ) -> None:
        """`limiters` is the Rota's declared limiters (its own mapping: later ones count)."""
        self.limiter_specs: Mapping[str, LimiterSpec] = {} if limiters is None else limiters
        self.limiters: Limiters | None = None
        self.definitions = dict(definitions)
        self.jobs: dict[str, JobState] = {}
        node_id = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        outage = Outage(node_id, self._store_back)
        self.basis = Basis(node_id, store, Writer(store), clock, outage)
        self.started_at = clock.now()
        self.worker = Worker(self.basis, self.jobs, workers, self.started_at)
        self.worker.job_free = self._job_free
        self.chains = Chains()  # which jobs are after which, by every job row (decision 0011)
        self.worker.chained = self.chains.downstream
        self.nodes = NodeLife(
            self.basis,
            self.worker,
            self.jobs,
            self.definitions,
            reload=self.reload,
            spawn=self._spawn_soon,
            started_at=self.started_at,
            heartbeat=heartbeat,
            lease=lease,
        )
        self._heap: list[tuple[datetime, int, str]] = []
        self._order = itertools.count()
        self._wake = asyncio.Event()
        self.loop: asyncio.AbstractEventLoop | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._stop_listening: Callable[[], None] | None = None
        self._notices = HeldNotices(self._act_on)  # held while the start reads the jobs
        self._fire_failures = 0
        self.lag = Lag()  # how far behind its fire times the scheduler is
        self._stepped = False  # the wall clock was stepped: interval schedules re-plan
        self._stop_step_watch: Callable[[], None] | None = None

    @property
    def node_id(self) -> str:
        """This node's id in the store."""
        return self.basis.node_id

    # -- lifecycle ----------------------------------------------------------------------------

    async def start(self) -> None:
        """Recover from a crash, sync the code's jobs, and start (the store is open)."""
        self.loop = asyncio.get_running_loop()
        now, basis = self.started_at, self.basis
        try:
            await self.nodes.register(now)
            # Listen before reading the jobs and the queued runs, not after: a job changed or a
            # run queued in between would be neither read nor heard, and a node with no other
            # alive never polls for it. What is heard before the job table is ready is held
            # until it is (`rota.engine.held`); a job both read and heard is read once more, a
            # run held once (`Worker.take`). Off the loop: a listener connects to its database,
            # and that may take a while.
            self._notices.hold()
            self._stop_listening = await asyncio.to_thread(basis.store.listen, self.heard)
            # Jobs first: the runs of dead nodes are retried by their jobs' effective policy.
            await self._sync_jobs(now)
            self._notices.release()
            await self.nodes.reap(now, everything=True)
            await self.worker.take_stored()
        except BaseException:
            self._unlisten()
            basis.writer.close()
            self.nodes.close()
            raise
        RecordCapture.start()
        self.limiters = Limiters(self.limiter_specs, basis)
        self.worker.limiters = self.limiters
        self.worker.spawns = Spawns(basis, self.jobs, self.worker.take)
        # Syncing many jobs can take longer than a lease: renew it before any run starts, so
        # that no other node finds this one dead while it was starting.
        await self.nodes.renew(basis.clock.now())
        self.worker.start()
        if isinstance(basis.clock, StepAware):
            self._stop_step_watch = basis.clock.on_step(self._clock_stepped)
        # Fire times due before now were missed while no engine ran: caught up, not late.
        due = [s.due_at for s in self.jobs.values() if s.due_at is not None and not s.paused]
        self.lag.started(basis.clock.now(), due)
        self._spawn(keep_running("rota-scheduler", self._schedule, basis.clock), "rota-scheduler")
        self._spawn(keep_running("rota-heartbeat", self.nodes.beat, basis.clock), "rota-heartbeat")
        log.info("rota node %s started with %d jobs", self.node_id, len(self.jobs))

    async def stop(self, grace: timedelta) -> None:
        """Stop creating runs; let running ones finish within `grace`, then record them
        interrupted. The store stays open (its owner closes it)."""
        for task in list(self._tasks):
            task.cancel()
        if self._stop_step_watch is not None:
            self._stop_step_watch()
        self._unlisten()
        basis = self.basis
        if self.worker.spawns is not None:
            self.worker.spawns.stopping.set()
        try:
            await self.worker.shutdown(grace)
            if self.limiters is not None:
                await self.limiters.close()
            await basis.writer.drain()
            await basis.writer.call(basis.store.stop_node, basis.node_id, basis.clock.now())
        finally:
            RecordCapture.stop()
            basis.writer.close()
            self.nodes.close()
            log.info("rota node %s stopped", self.node_id)

    def _unlisten(self) -> None:
        """Stop listening, if listening. Off the loop: PostgreSQL's listener finishes its
        current wait first. Not through the default executor, which is gone at interpreter exit
        (atexit)."""
        stop, self._stop_listening = self._stop_listening, None
        if stop is not None:
            threading.Thread(target=stop, name="rota-unlisten").start()

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
        store = self.basis.store
        definitions = dict(self.definitions)

        def sync(defaults: dict[str, dict[str, Any]], now: datetime) -> SyncResult:
            # Chains that cannot work are refused before anything is written; in the same
            # call, so that the writer's order of reads and writes stays as it was.
            check_code_chains(definitions, store.list_jobs())
            return store.sync_jobs(defaults, now, internal=internal)

        synced = await self.basis.writer.call(sync, defaults, now)
        self.chains.load(synced.jobs)
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
            moved = (
                old is not None
                and old.get("schedule") != defaults[record.name]["schedule"]
                and "schedule" not in record.override
            )
            if record.paused or (record.next_fire_at is not None and not moved):
                continue
            first = settings.schedule.next_after(now)
            if (
                first is None
                and isinstance(settings.schedule, Once)
                and (moved or not await self._has_fired(record.name))
            ):
                raise SettingError(
                    "schedule",
                    settings.schedule.text,
                    f"job {record.name!r} would fire once at a time that has passed",
                )
            if first != record.next_fire_at:
                starts.append(Fire(record.name, record.next_fire_at, first))
                state.next_fire_at = first
        for fire, result in zip(starts, await self.basis.writer.apply(starts), strict=True):
            if not result.advanced:
                await self.reload(fire.job)
        for state_name, state in self.jobs.items():
            if names is None or state_name in names:
                self._push(state_name, state)

    async def _has_fired(self, name: str) -> bool:
        """Whether a job's schedule ever made a run (a one-shot that fired is finished; one
        that never did, with its time gone, was registered too late)."""
        basis = self.basis
        reasons = {Reason.SCHEDULE, Reason.CATCH_UP}
        count = functools.partial(basis.store.count_runs, name, reasons=reasons)
        return bool(await basis.writer.call(count))

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
                settings = JobSettings().with_values(setting_values(record.defaults))
                return JobDefinition.create(record.name, function, settings, kind=JobKind.RUNTIME)
            except RotaError as error:
                log.error("rota cannot run job %s added at run time: %s", record.name, error)
                return None
        return self.definitions.get(record.name)

    async def add_definition(self, definition: JobDefinition) -> None:
        """A job registered in code after start: store it, schedule it, and register it."""
        self.definitions[definition.name] = definition
        await self._sync_jobs(self.basis.clock.now(), {definition.name})
        await self.nodes.register(self.basis.clock.now())
        self._wake.set()

    # -- scheduling ---------------------------------------------------------------------------

    def _push(self, name: str, state: JobState) -> None:
        due_at = state.due_at
        if due_at is not None and not state.paused:
            heapq.heappush(self._heap, (due_at, next(self._order), name))

    async def _schedule(self) -> None:
        clock, outage = self.basis.clock, self.basis.outage
        while True:
            self._wake.clear()
            now = clock.now()
            if self._stepped:
                self._stepped = False
                await self._replan(now)
            due: list[tuple[str, datetime]] = []
            earliest, taken = now, set()
            while self._heap and self._heap[0][0] <= now and len(due) < FIRE_BATCH:
                due_at, _, name = heapq.heappop(self._heap)
                state = self.jobs.get(name)
                if state is None or state.paused or name in taken or state.due_at != due_at:
                    continue  # stale: the job moved, was paused or removed, or is taken
                if state.next_fire_at is None:
                    continue
                taken.add(name)
                due.append((name, state.next_fire_at))
                earliest = min(earliest, due_at)  # lateness: since it was due to be looked at
                state.parked_until = None
            if due:
                backlog = 0
                if len(due) == FIRE_BATCH:  # counted only when more may be waiting
                    backlog = sum(entry[0] <= now for entry in self._heap)
                self.lag.batch(earliest, len(due), backlog, now)
                try:
                    await self._fire(due, now)
                except Exception as error:  # the scheduler must outlive anything a fire meets
                    outage.failed("recording due fire times", error, now)
                    self._fire_failures += 1
                    # Safe to try again: a fire that did commit is found advanced and re-read.
                    for name, _ in due:
                        if name in self.jobs:
                            self._push(name, self.jobs[name])
                    await clock.sleep_until(now + pause_after(self._fire_failures))
                else:
                    self._fire_failures = 0
                    outage.answered(now)
                # Let the dispatcher submit its claims before the next batch of fire times.
                await asyncio.sleep(0)
                continue
            waiters: list[asyncio.Task[Any]] = [asyncio.create_task(self._wake.wait())]
            if self._heap:
                waiters.append(asyncio.create_task(clock.sleep_until(self._heap[0][0])))
            try:
                await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for waiter in waiters:
                    waiter.cancel()

    def _clock_stepped(self, step: float) -> None:
        self._stepped = True
        self._wake.set()

    async def _replan(self, now: datetime) -> None:
        """After a step of the wall clock: an interval schedule (elapsed time) fires next at its
        first fire time after `now`, within one period, instead of waiting out a step back or
        catching up a step forward. Wall-clock schedules (cron, daily, once) keep their wall
        times: the fire times a step forward passed over are caught up as after downtime."""
        fires: list[Fire] = []
        for name, state in self.jobs.items():
            schedule = state.settings.schedule
            if state.paused or state.next_fire_at is None or not isinstance(schedule, Interval):
                continue
            following = schedule.next_after(now)
            if following != state.next_fire_at:
                fires.append(Fire(name, state.next_fire_at, following))
        for fire, result in zip(fires, await self.basis.writer.apply(fires), strict=True):
            if result.advanced:
                state = self.jobs[fire.job]
                state.next_fire_at = fire.next_fire_at
                self._push(fire.job, state)
            else:
                await self.reload(fire.job)
        if fires:
            log.info("rota re-planned %d interval jobs after a wall-clock step", len(fires))

    async def _fire(self, due: list[tuple[str, datetime]], now: datetime) -> None:
        """Create the runs for due fire times, advancing each job in the same transaction."""
        operations: list[Operation] = []
        fires: list[Fire] = []
        for name, fire_at in due:
            fire, cancels = self._plan_fire(name, fire_at, now)
            fires.append(fire)
            operations.extend(cancels)
            operations.append(fire)
        results = await self.basis.writer.apply(operations)
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
            behind = coalesced_fire(state, fire_at, now, self.lag)
            if behind is not None:  # more than one fire time due: decided at once
                return behind, []
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
        running, queued = state.active_now(now)
        streak = state.streak if reason is Reason.SCHEDULE else None
        batch: OverlapDecision | None = None
        for fire_time in fire_times:
            if batch is not None:
                # catch_up="all": the missed fire times are one backlog; overlap decided for
                # the first against what was active before, and the rest follow it (each runs
                # in turn, as the job's room allows).
                decision = OverlapDecision(batch.create, batch.reason)
            else:
                decision = decide_overlap(
                    settings.overlap, settings.max_concurrent, running, queued
                )
                if reason is Reason.CATCH_UP and settings.catch_up is CatchUp.ALL:
                    batch = decision
            for run_id in decision.cancel:
                note = "replaced by a newer run (overlap=replace)"
                cancels.append(RequestCancel(run_id, now, note))
            if decision.cancel:
                running, queued = [], []
            if decision.create:
                runs.append(NewRun(name, reason, now, fire_time=fire_time, args=settings.args))
                queued.append(None)
            else:
                # A streak of skipped fire times is one run, counted up (decision 0007).
                skipped = NewRun(
                    name,
                    reason,
                    now,
                    RunStatus.SKIPPED,
                    fire_time,
                    note=decision.reason,
                    streak_of=streak,
                )
                runs.append(skipped)
                streak = None
        if reason is Reason.SCHEDULE:
            runs = [announced_or_quiet(state, run) for run in runs]
        return Fire(name, fire_at, following, tuple(runs)), cancels

    async def _fired(self, fire: Fire, result: FireResult) -> None:
        state = self.jobs[fire.job]
        if not result.advanced:
            await self.reload(fire.job)  # changed meanwhile (an admin edit, another node)
            return
        state.next_fire_at = fire.next_fire_at
        for new, run_id in zip(fire.runs, result.run_ids, strict=True):
            if run_id is None:
                continue  # this fire time already had its run
            if new.status is RunStatus.QUEUED:
                state.streak = None
                self.worker.take(QueuedRun.of(run_id, new))
            elif new.reason is Reason.SCHEDULE:
                state.streak = run_id
                if not (new.quiet and run_id == new.streak_of):  # an event was written
                    state.streak_announced = new.latest_fire_time
        set_aside(state, self.lag, self.basis.clock.now())
        self._push(fire.job, state)

    def _job_free(self, name: str) -> None:
        state = self.jobs.get(name)
        if state is not None and take_back(state, self.basis.clock.now()):
            self._push(name, state)
            self._wake.set()

    async def reload(self, name: str) -> None:
        """Read a job again after a change elsewhere: settings, pause, next fire time; a job
        added at run time is loaded, a removed one dropped."""
        record = await self.basis.writer.call(self.basis.store.get_job, name)
        state = self.jobs.get(name)
        self.chains.update(name, record)
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

    def _cancelled(self, run_id: int, before: RunStatus | None, note: str) -> None:
        if before is RunStatus.RUNNING:
            self.worker.stop_run(run_id, RunStatus.CANCELLED, note)
        elif before is RunStatus.QUEUED:
            self.worker.remove_queued(run_id)

    # -- notices from the store (admin actions, other nodes) ---------------------------------

    def heard(self, notice: str) -> None:
        """A notice from the store (any thread), once its transaction committed: a run was
        queued (``run:ID``), a job changed (``job:NAME``), a running run is to stop
        (``cancel:ID:NOTE``); ``events:ID`` is for event followers."""
        if not notice.startswith("events:"):
            self._notices.heard(notice)

    def _act_on(self, notice: str) -> None:
        kind, _, value = notice.partition(":")
        if kind == "run" and value.isdigit():
            self._spawn_soon(self._run_queued(int(value)), "rota-notice")
        elif kind == "job" and value:
            self._spawn_soon(self.reload(value), "rota-notice")
        elif kind == "cancel":
            run_id, _, note = value.partition(":")
            loop = self.loop
            if run_id.isdigit() and loop is not None and not loop.is_closed():
                stop = functools.partial(
                    self.worker.stop_run, int(run_id), RunStatus.CANCELLED, note, again=False
                )
                loop.call_soon_threadsafe(stop)

    def _spawn_soon(self, coroutine: Coroutine[Any, Any, None], name: str) -> None:
        """Run a task on the engine's loop, from any thread."""
        loop = self.loop
        if loop is None or loop.is_closed():
            coroutine.close()
            return
        loop.call_soon_threadsafe(self._spawn, coroutine, name)

    def _store_back(self) -> None:
        """The store answers again after failing: put right what broken writes left."""
        self.nodes.back()

    async def _run_queued(self, run_id: int) -> None:
        """A run queued outside this node's own writes: hold it if it is still queued."""
        if any(run_id in state.queued or run_id in state.running for state in self.jobs.values()):
            return  # held already (this node's own write, such as its runs' spawns): no read
        basis = self.basis
        run = await basis.writer.call(basis.store.get_run, run_id)
        if run is not None and run.status is RunStatus.QUEUED:
            self.worker.take(QueuedRun.of_record(run))
