"""Runs queued runs: claim → prepare context → call → record → announce.

A fixed number of slots; queued runs start as soon as their job has room (one running run, or
`max_concurrent` under ``overlap="allow"``), the jobs taking turns (`WaitingRuns`). Async jobs run
on the engine's loop, sync jobs in a bounded pool of daemon threads, and jobs with
``isolation="process"`` each in a process of its own (`engine.process`). A job raising never
disturbs the engine or other jobs.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import logging
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from rota.engine.active import PROGRESS_INTERVAL, ActiveRun, write_progress
from rota.engine.child import KILL_GRACE
from rota.engine.context import RunContext, RunInfo, current_run
from rota.engine.ending import LEASE_GONE, STOPPED, attempt_after, finish_of, record_end
from rota.engine.isolation import Isolation
from rota.engine.limiter import Limiters
from rota.engine.policies import Overlap
from rota.engine.prerequisites import require, then_call, then_call_in_thread
from rota.engine.process import JobProcess
from rota.engine.runs import (
    Outcome,
    QueuedRun,
    call_async_job,
    late_result,
    outcome_of,
    outcome_of_raised,
    unfit_arguments,
    unless_given_up,
)
from rota.engine.spawning import Spawns
from rota.engine.supervise import keep_running
from rota.engine.threads import JobThreads
from rota.engine.waiting import WaitingRuns
from rota.errors import StoreUnavailableError
from rota.store.operations import (
    LEASE_LOST,
    Chain,
    Chained,
    Claim,
    Enqueue,
    Finish,
    Operation,
    RequestCancel,
)
from rota.store.records import Reason, RunStatus

if TYPE_CHECKING:
    from rota.engine.basis import Basis
    from rota.engine.jobs import JobState

__all__ = ["PROGRESS_INTERVAL", "Worker"]

log = logging.getLogger("rota.engine")


class Worker:
    """See the module docstring."""

    def __init__(
        self,
        basis: Basis,
        jobs: Mapping[str, JobState],
        slots: int,
        started_at: datetime,
    ) -> None:
        """`jobs` is the node's live table of jobs (the engine adds and drops entries);
        `started_at` is when the node started (a job's start delay counts from then)."""
        self.basis = basis
        self.jobs = jobs
        self.slots = slots
        self.started_at = started_at
        self._queue = WaitingRuns()
        self._active: dict[int, ActiveRun] = {}
        self._pool = JobThreads(slots)
        self._kick = asyncio.Event()
        self._dispatcher: asyncio.Task[None] | None = None
        self._claims: set[asyncio.Task[None]] = set()
        self._held: str | None = None  # why no run may start, while that is so
        self._ending: set[int] = set()  # runs whose end is being written
        # Runs given up (timed out, cancelled, stopped) whose call has not returned: a sync
        # job's thread is still busy, so each keeps its slot until the call returns.
        self._lingering: dict[int, asyncio.Future[Any]] = {}
        self._stopping = asyncio.Event()  # set by `shutdown`; cuts backoff pauses short
        self._processes: set[asyncio.Future[Any]] = set()  # process-isolated calls going on
        # Called when this node finds its lease gone or stale (a write refused, a long pause):
        # the node's life checks with the store at once (`NodeLife.check`).
        self.lease_doubted: Callable[[], None] = lambda: None
        # Called with a job's name when its last run active here ended (the engine looks at
        # a job it set aside while behind again).
        self.job_free: Callable[[str], None] = lambda name: None
        # What `ctx.limit` and `ctx.spawn` use (decision 0012); the engine sets them at start.
        self.limiters: Limiters | None = None
        self.spawns: Spawns | None = None
        # The jobs after a job (`engine.chains.Chains.downstream`): a success of the job names
        # them to the store in its finish's transaction (decision 0011).
        self.chained: Callable[[str], tuple[str, ...]] = lambda job: ()

    # -- the queue ----------------------------------------------------------------------------

    def start(self) -> None:
        """Start taking runs from the queue."""
        dispatch = keep_running("rota-dispatch", self._dispatch, self.basis.clock, self._stopping)
        self._dispatcher = asyncio.create_task(dispatch, name="rota-dispatch")

    def take(self, run: QueuedRun) -> bool:
        """Hold a run the store has as queued, to start it when its job has room; False if
        this node holds it already, queued or running (a notice, a poll and this node's own
        write may all report one run), or has no such job."""
        state = self.jobs.get(run.job)
        if state is None or run.id in state.queued or run.id in self._active:
            return False
        state.queued.add(run.id)
        if run.reason is Reason.MANUAL and run.not_before is not None:
            state.later[run.id] = run.not_before
        self._insert(run)
        return True

    async def take_stored(self) -> None:
        """Hold every run the store has as queued (at start, and after an outage)."""
        for record in await self.basis.writer.call(self.basis.store.active_runs):
            if record.status is RunStatus.QUEUED:
                self.take(QueuedRun.of_record(record))

    def ready_at(self, state: JobState, run: QueuedRun) -> datetime:
        """When a queued run may start: its not-before, and the job's start delay after the
        node started."""
        # Not the node's start itself: after the wall clock was stepped back past it, every run
        # would wait out the step.
        ready = run.not_before or _LONG_AGO
        delay = state.settings.start_delay
        if delay is not None:
            ready = max(ready, self.started_at + delay)
        return ready

    def _insert(self, run: QueuedRun) -> None:
        self._queue.add(run)
        self._kick.set()

    def remove_queued(self, run_id: int) -> None:
        """Let go of a queued run (it was cancelled in the store)."""
        for run in self._queue:
            if run.id == run_id:
                self._queue.remove(run.job, run_id)
                state = self.jobs.get(run.job)
                if state is not None:
                    state.let_go(run_id)
                    if not state.running and not state.queued:
                        self.job_free(run.job)
                return

    def is_running(self, run_id: int) -> bool:
        """Whether this node is running the run (or claiming it)."""
        return run_id in self._active

    def running_ids(self) -> set[int]:
        """The runs this node is claiming, running, or recording the end of, now: the store
        may show any of them as running."""
        return set(self._active) | self._ending

    def stop_run(self, run_id: int, status: RunStatus, note: str, *, again: bool = True) -> bool:
        """Stop a running run: it is recorded with `status` and `note` at once. With `again`
        false, a run already being stopped keeps the status and note it was stopped with."""
        active = self._active.get(run_id)
        if active is None or (not again and active.stop.done()):
            return False
        active.stop_status, active.stop_note = status, note
        active.context.cancel()
        if not active.stop.done():
            active.stop.set_result(None)
        return True

    def hold(self, reason: str) -> None:
        """Start no run until `release` (runs already running go on)."""
        if self._held is None:
            log.warning("rota starts no runs: %s", reason)
        self._held = reason

    def release(self) -> None:
        """Start runs again after `hold`."""
        if self._held is not None:
            log.warning("rota starts runs again")
            self._held = None
            self._kick.set()

    def abandon(self, generation: int) -> int:
        """Stop the runs claimed under lease `generation`, which this node no longer holds:
        another node recorded them interrupted and retries them. How many it stopped."""
        stopped = 0
        for run_id, active in list(self._active.items()):
            if active.owner is not None and active.owner.generation == generation:
                stopped += self.stop_run(run_id, RunStatus.INTERRUPTED, LEASE_GONE, again=False)
        if stopped:
            log.warning(
                "rota node %s lost its lease: it stops the %d runs it was running, which "
                "another node took",
                self.basis.node_id,
                stopped,
            )
        return stopped

    def renewed(self) -> None:
        """The lease was renewed: runs may start again."""
        self._kick.set()

    @property
    def queued_count(self) -> int:
        """How many runs wait for a slot."""
        return len(self._queue)

    async def _dispatch(self) -> None:
        clock = self.basis.clock
        while not self._stopping.is_set():
            self._kick.clear()
            now = clock.now()
            picked, wake_at = self._pick(now)
            if picked:
                self._claim(picked, now)
                continue
            if wake_at is None:  # the usual case, once per finished run in a burst: no tasks
                await self._kick.wait()
                continue
            waiters = [
                asyncio.create_task(self._kick.wait()),
                asyncio.create_task(clock.sleep_until(wake_at)),
            ]
            try:
                await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for waiter in waiters:
                    waiter.cancel()

    def _pick(self, now: datetime) -> tuple[list[QueuedRun], datetime | None]:
        """Runs that may start now (up to the free slots), and when to look again otherwise."""
        taken_slots = len(self._active) + len(self._lingering)
        free = 0 if self._held is not None else self.slots - taken_slots
        if free > 0 and self._queue and self.basis.tenure.stale(now):
            self.lease_doubted()  # renewed first; `renewed` kicks the dispatcher again
            free = 0
        return self._queue.pick(free, now, self.jobs, self.ready_at)

    def _claim(self, picked: list[QueuedRun], now: datetime) -> None:
        # The runs count as running from here, before the claim is written: a fire time or a
        # cancel that comes while it is being written must already see them as such, and the
        # dispatcher does not pick them again.
        started: list[tuple[ActiveRun, JobState]] = []
        for run in picked:
            self._queue.served(run)
            state = self.jobs[run.job]
            state.let_go(run.id)
            state.running.add(run.id)
            active = ActiveRun(run, self._context(run), now, owner=self.basis.lease())
            self._active[run.id] = active
            started.append((active, state))
        # Not awaited by the dispatcher: a slot freed while this claim is written is claimed at
        # once, in the same transaction if the writer is still busy with an earlier one.
        task = asyncio.create_task(self._write_claim(started, now), name="rota-claim")
        self._claims.add(task)
        task.add_done_callback(self._claims.discard)

    async def _write_claim(self, started: list[tuple[ActiveRun, JobState]], now: datetime) -> None:
        basis, node = self.basis, self.basis.node_id
        claims = [
            Claim(
                active.run.id,
                node,
                now,
                limit=state.limit,
                generation=None if active.owner is None else active.owner.generation,
            )
            for active, state in started
        ]
        results: list[Any] = [None] * len(claims)
        failures = 0
        while not self._stopping.is_set() or not failures:
            try:
                results = await basis.writer.apply(claims)
                break
            except StoreUnavailableError as error:  # the runs stay claimed here meanwhile
                failures += 1
                basis.outage.failed("claiming runs", error, basis.clock.now())
                await basis.pause(failures, self._stopping)
            except Exception:
                log.exception("rota could not claim %d runs; they stay queued", len(claims))
                break
        busy: set[int] = set()
        for index, claim in enumerate(claims):
            if results[index] is not False:
                continue
            record = await basis.writer.call(basis.store.get_run, claim.run_id)
            if record is not None and record.status is RunStatus.QUEUED:
                busy.add(claim.run_id)  # its job runs as often as it may, on other nodes
            elif record is not None and record.status is RunStatus.RUNNING:
                # Ours, if an attempt that broke had committed; else another node's.
                results[index] = record.node == node
        if LEASE_LOST in results:
            # Another node took this node's runs: it may take none before it renews its lease.
            self.hold("its lease was lost (another node found it dead)")
            self.lease_doubted()
        for (active, state), claimed in zip(started, results, strict=True):
            run = active.run
            if not claimed:  # cancelled, taken by another node, or its job busy elsewhere
                self._active.pop(run.id, None)
                state.running.discard(run.id)
                self._kick.set()  # its slot is free again for the runs still queued here
                if run.id in busy:
                    await self._busy_elsewhere(run, state, now)
                elif claimed is None or claimed is LEASE_LOST:  # not written: still queued
                    self.take(run)
                continue
            active.task = asyncio.create_task(
                self._execute(active, state), name=f"rota-run-{run.id}"
            )

    async def _busy_elsewhere(self, run: QueuedRun, state: JobState, now: datetime) -> None:
        """A run whose job was already running as often as it may, on other nodes: skipped
        under ``overlap="skip"``, else left queued, to be claimed again a little later. A
        spawned run always waits its turn: it was asked for once, by key (decision 0012)."""
        if state.settings.overlap is Overlap.SKIP and run.reason is not Reason.SPAWNED:
            note = "another run of the job was running on another node (overlap=skip)"
            skip = [Finish(run.id, RunStatus.SKIPPED, now, note=note)]
            await self.basis.persist(f"skipping run {run.id}", skip, self._stopping)
            return
        self.take(replace(run, not_before=now + _BUSY_PAUSE))

    # -- one run ------------------------------------------------------------------------------

    def _context(self, run: QueuedRun) -> RunContext:
        info = RunInfo(run.id, run.job, run.reason, run.fire_time, run.attempt, run.args)
        loop = asyncio.get_running_loop()

        def changed() -> None:  # from the job's thread, for a sync job
            loop.call_soon_threadsafe(self._progress_changed, run.id)

        return RunContext(info, changed, limiters=self.limiters, spawns=self.spawns)

    async def _execute(self, active: ActiveRun, state: JobState) -> None:
        run = active.run
        try:
            if active.stop.done():  # stopped while it was being claimed: never call the job
                outcome = Outcome(active.stop_status, note=active.stop_note)
            elif (unfit := unfit_arguments(state, run)) is not None:
                outcome = unfit
            else:
                outcome = await self._call(active, state)
        except Exception as error:  # a bug in rota itself, not in the job
            log.exception("rota failed while running run %s of %s", run.id, run.job)
            outcome = Outcome(RunStatus.FAILED, error=f"rota: {error!r}")
        if active.progress_task is not None:
            active.progress_task.cancel()
        if self.spawns is not None:  # the run's spawns are written before its end
            try:
                await self.spawns.flush(run.id)
            except Exception:
                log.exception("rota failed to write the runs spawned by run %s", run.id)
        await self._record(active, state, outcome)

    async def _call(self, active: ActiveRun, state: JobState) -> Outcome:
        run, context, definition = active.run, active.context, state.definition
        loop = asyncio.get_running_loop()
        job_context = contextvars.copy_context()
        job_context.run(current_run.set, context)
        arguments = (context,) if definition.takes_ctx else ()
        job: asyncio.Future[Any]
        isolated: JobProcess | None = None
        checks = state.settings.requires  # prerequisites: a check not met skips the run
        if state.settings.isolation is Isolation.PROCESS:
            if checks:  # in this process, before the job's own is started
                try:
                    await require(checks, context, self._pool)
                except Exception as error:
                    return outcome_of_raised(error)
            isolated = JobProcess.start(definition, context, run.args)
            job = isolated.ended
            self._processes.add(job)
            job.add_done_callback(self._processes.discard)
        elif definition.is_async:
            call_job = functools.partial(
                call_async_job, definition.function, *arguments, **run.args
            )
            coroutine = then_call(checks, context, self._pool, call_job) if checks else call_job()
            job = loop.create_task(coroutine, name=f"rota-job-{run.id}", context=job_context)
        else:
            call = functools.partial(definition.function, *arguments, **run.args)
            if checks:
                call = functools.partial(then_call_in_thread, checks, context, loop, call)
            job = loop.run_in_executor(
                self._pool, job_context.run, functools.partial(unless_given_up, context, call)
            )
        waiters: list[asyncio.Future[Any]] = [job, active.stop]
        timeout = state.settings.timeout
        timer: asyncio.Task[None] | None = None
        if timeout is not None:
            timer = asyncio.create_task(self.basis.clock.sleep_until(active.started_at + timeout))
            waiters.append(timer)
        try:
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        finally:
            if timer is not None:
                timer.cancel()
        # A stop wins over a call that ended with it (a job's wait ended by the stop, such as
        # a limiter's, returns at once): the run is recorded as it was stopped.
        if job.done() and not active.stop.done():
            return outcome_of(job) if isolated is None else isolated.ended.result()
        context.cancel()
        if isolated is not None:  # SIGTERM, then SIGKILL: it ends for real
            isolated.stop()
        elif definition.is_async:
            job.cancel()
        if active.stop.done():
            outcome = Outcome(active.stop_status, note=active.stop_note)
        else:
            outcome = Outcome(RunStatus.TIMED_OUT, note=f"timed out after {timeout}")
        self._linger(run, job, outcome.status, is_async=definition.is_async or isolated is not None)
        return outcome

    def _linger(
        self, run: QueuedRun, job: asyncio.Future[Any], status: RunStatus, *, is_async: bool
    ) -> None:
        """A run given up whose call goes on keeps its slot until the call returns: a sync
        job's thread cannot be stopped, and the next run must not wait for it after it has
        started (its timeout running, its start recorded)."""
        self._lingering[run.id] = job
        job.add_done_callback(functools.partial(self._returned, run))

        def still_running() -> None:
            if not job.done():
                log.warning(
                    "run %s of %s is recorded %s, but its job is still running; it keeps its "
                    "slot until it returns",
                    run.id,
                    run.job,
                    status.value,
                )

        if is_async:  # cancelled: most tasks end within moments
            asyncio.get_running_loop().call_later(_UNWIND, still_running)
        else:
            still_running()

    def _returned(self, run: QueuedRun, job: asyncio.Future[Any]) -> None:
        self._lingering.pop(run.id, None)
        self._kick.set()
        late_result(run.id, run.job, job)

    async def _record(self, active: ActiveRun, state: JobState, outcome: Outcome) -> None:
        run = active.run
        now = self.basis.clock.now()
        finish = replace(finish_of(run, outcome, active.context, now), owner=active.owner)
        operations: list[Operation] = [finish]
        downstream = self.chained(run.job) if outcome.status is RunStatus.SUCCEEDED else ()
        if downstream:  # in the same transaction as the success: nothing lost, nothing twice
            operations.append(Chain(run.id, run.job, now, downstream))
        retry = await attempt_after(self.limiters, run, state.settings.retry, outcome, now)
        if retry is not None:
            operations.append(Enqueue(retry, owner=active.owner))
        # The slot is free now: the next claim goes into the same transaction as this finish.
        self._active.pop(run.id, None)
        state.running.discard(run.id)
        self._kick.set()
        if not state.running and not state.queued:
            self.job_free(run.job)
        self._ending.add(run.id)
        try:
            results = await record_end(self.basis, run, operations, self._stopping)
        finally:
            self._ending.discard(run.id)
        if results[0] is LEASE_LOST:
            log.warning(
                "rota did not record run %s of %s %s: another node took it when this node's "
                "lease ran out (it was recorded interrupted there, and retried per policy)",
                run.id,
                run.job,
                outcome.status.value,
            )
            self.lease_doubted()
        elif retry is not None and isinstance(results[-1], int):
            self.take(QueuedRun.of(results[-1], retry))
        if downstream and isinstance(results[1], Chained):
            await self._chained(results[1])

    async def _chained(self, chained: Chained) -> None:
        """Take up the runs a success queued for the jobs after it, and cancel the runs that
        those of ``overlap="replace"`` jobs replace."""
        for run_id, new, _ in chained.runs:
            if new.status is RunStatus.QUEUED:
                self.take(QueuedRun.of(run_id, new))
        if not chained.replaces:
            return
        now, note = self.basis.clock.now(), "replaced by a newer run (overlap=replace)"
        cancels = [RequestCancel(run_id, now, note) for run_id in chained.replaces]
        results = await self.basis.persist("cancelling replaced runs", cancels, self._stopping)
        for cancel, before in zip(cancels, results or [], strict=False):
            if before is RunStatus.RUNNING:
                self.stop_run(cancel.run_id, RunStatus.CANCELLED, note)
            elif before is RunStatus.QUEUED:
                self.remove_queued(cancel.run_id)

    # -- progress -----------------------------------------------------------------------------

    def _progress_changed(self, run_id: int) -> None:
        active = self._active.get(run_id)
        if active is None or (active.progress_task and not active.progress_task.done()):
            return
        active.progress_task = asyncio.create_task(
            write_progress(self.basis, active, self.is_running, lambda: self.lease_doubted())
        )

    # -- stopping -----------------------------------------------------------------------------

    async def shutdown(self, grace: timedelta) -> None:
        """Stop starting runs; give running ones `grace` to finish, then record them
        interrupted."""
        # The dispatcher ends; claims being written finish (their runs get their tasks).
        self._stopping.set()
        self._kick.set()
        if self._dispatcher is not None:
            await self._dispatcher
        await asyncio.gather(*self._claims)
        tasks = [a.task for a in self._active.values() if a.task is not None]
        if tasks:
            clock = self.basis.clock
            timer = asyncio.create_task(clock.sleep_until(clock.now() + grace))
            everything = asyncio.gather(*tasks, return_exceptions=True)
            waiters: list[asyncio.Future[Any]] = [timer, everything]
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
            timer.cancel()
            for run_id in list(self._active):
                self.stop_run(run_id, RunStatus.INTERRUPTED, STOPPED)
            await everything
        if self._processes:  # stopped: each ends within the kill grace, and leaves nothing
            await asyncio.wait(self._processes, timeout=KILL_GRACE + _PROCESS_EXIT)
        if self._lingering:
            # A job that looks at ctx.cancelled ends within moments: let it finish cleanly
            # before the process, and its daemon threads with it, may end.
            await asyncio.wait(list(self._lingering.values()), timeout=_UNWIND)
        if self._lingering:
            log.warning(
                "rota stops while %d runs it gave up are still running (runs %s); their "
                "threads end with the process",
                len(self._lingering),
                ", ".join(str(run_id) for run_id in sorted(self._lingering)),
            )
        self._pool.shutdown(wait=False, cancel_futures=True)


# How long (real seconds) a cancelled async job may take to end before the log says it goes on,
# and how long a stop waits for the given-up jobs that look at ctx.cancelled to return.
_UNWIND = 1.0
# How long (real seconds) a stop waits, past the kill grace, for killed job processes to be gone.
_PROCESS_EXIT = 2.0
_LONG_AGO = datetime(1970, 1, 1, tzinfo=UTC)
# How long a run whose job is busy on other nodes waits before it is claimed again.
_BUSY_PAUSE = timedelta(seconds=1)
