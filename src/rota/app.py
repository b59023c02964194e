"""`Rota`: the facade an application touches. It registers jobs, owns the store, and starts or
stops the engine, in the caller's asyncio loop or in a background thread for sync apps.

Admin actions (run now, cancel, re-schedule, pause, reset) write to the store from the caller's
thread and then tell the engine, if one runs; they work as well before it starts.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, TypeVar

from rota.clock import Clock, SystemClock
from rota.engine.core import Engine
from rota.engine.jobs import JobDefinition, effective_settings
from rota.engine.policies import decide_overlap
from rota.engine.retention import prune_job
from rota.engine.settings import JobSettings, duration_setting
from rota.errors import RotaError, SettingError, UnknownJobError, UnknownRunError
from rota.outcomes import Retry
from rota.schedules import Manual, Schedule, to_schedule
from rota.schedules.zones import resolve_zone
from rota.store import open_store
from rota.store.abc import Enqueue, NewRun, Operation, RequestCancel, Store, UpdateJob
from rota.store.records import ACTIVE, JobRecord, Reason, Retention, RunRecord, RunStatus

__all__ = ["JobInfo", "Rota"]

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class JobInfo:
    """A job as an admin sees it: effective schedule and settings, state, next and last run."""

    name: str
    description: str
    schedule: Schedule
    settings: JobSettings
    overridden: tuple[str, ...]
    paused: bool
    pause_note: str | None
    in_code: bool
    next_fire_at: datetime | None
    last_run: RunRecord | None

    @property
    def is_overridden(self) -> bool:
        """Whether an admin changed anything about this job."""
        return bool(self.overridden)


class Rota:
    """Named jobs on schedules, with policies and a recorded history. See the README."""

    def __init__(
        self,
        database_url: str = "sqlite:///rota.db",
        *,
        timezone: str | None = None,
        clock: Clock | None = None,
        workers: int = 10,
        heartbeat: str | float | timedelta = 15,
        lease: str | float | timedelta = 60,
    ) -> None:
        """`heartbeat` is how often this node renews its lease and looks for dead nodes;
        `lease` how long a node that stopped renewing counts as alive (at least two
        heartbeats): the longest a dead node's runs wait to be recorded interrupted."""
        if isinstance(workers, bool) or not isinstance(workers, int) or not 1 <= workers <= 1000:
            raise SettingError("workers", str(workers), f"{workers!r} is not a number 1-1000")
        self.heartbeat = duration_setting(heartbeat, "heartbeat")
        self.lease = duration_setting(lease, "lease")
        if self.lease < 2 * self.heartbeat:
            raise SettingError(
                "lease",
                str(lease),
                f"a lease of {self.lease} must last at least two heartbeats ({self.heartbeat} "
                "each), or a node that is only slow would be found dead",
            )
        self.database_url = database_url
        self.timezone = resolve_zone(timezone)
        self.clock: Clock = clock or SystemClock()
        self.workers = workers
        self._definitions: dict[str, JobDefinition] = {}
        self._store: Store | None = None
        self._store_open = False
        self._store_lock = threading.Lock()
        self._engine: Engine | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._synced = False
        self._add(prune_job(lambda: self._engine))

    # -- jobs ---------------------------------------------------------------------------------

    def job(
        self,
        name: str,
        *,
        schedule: Schedule | str | None = None,
        description: str | None = None,
        overlap: str = "skip",
        max_concurrent: int = 1,
        catch_up: str = "once",
        grace: str | float | timedelta = 60,
        retry: Retry | int | None = None,
        timeout: str | float | timedelta | None = None,
        start_delay: str | float | timedelta | None = None,
        retention: Retention | None = None,
    ) -> Callable[[F], F]:
        """Register a sync or async function as a job; its settings are the code's defaults.

        `schedule` is a Schedule or its text (``"daily 02:00"``), read in the Rota's time zone;
        none means manual. The function takes ``ctx`` first, or nothing, plus a run's keyword
        arguments. A bad value raises SettingError or ScheduleError naming it.
        """
        settings = JobSettings.build(
            schedule=schedule,
            tz=self.timezone,
            description=description or "",
            overlap=overlap,
            max_concurrent=max_concurrent,
            catch_up=catch_up,
            grace=grace,
            retry=retry,
            timeout=timeout,
            start_delay=start_delay,
            retention=retention,
        )

        def register(function: F) -> F:
            text = settings.description or (function.__doc__ or "").strip().split("\n")[0]
            self._add(JobDefinition.create(name, function, replace(settings, description=text)))
            return function

        return register

    def _add(self, definition: JobDefinition) -> None:
        if self._engine is not None:
            raise SettingError("job", definition.name, "jobs must be registered before start")
        if definition.name in self._definitions:
            raise SettingError(
                "job name", definition.name, f"a job named {definition.name!r} is registered"
            )
        self._definitions[definition.name] = definition

    # -- lifecycle ----------------------------------------------------------------------------

    @property
    def store(self) -> Store:
        """The store, opened on first use (and again after `close`)."""
        with self._store_lock:
            if self._store is None:
                self._store = open_store(self.database_url)
            if not self._store_open:
                self._store.open()
                self._store_open = True
            return self._store

    @property
    def engine(self) -> Engine | None:
        """The running engine, if any (its `bus` carries the events)."""
        return self._engine

    async def start_async(self) -> None:
        """Start the engine on the running event loop."""
        if self._engine is not None:
            raise RotaError("rota is already running")
        store = await asyncio.to_thread(lambda: self.store)
        engine = Engine(
            store,
            self._definitions,
            self.clock,
            workers=self.workers,
            heartbeat=self.heartbeat,
            lease=self.lease,
        )
        self._engine = engine
        self._loop = asyncio.get_running_loop()
        try:
            await engine.start()
        except BaseException:
            self._engine = None
            raise

    async def stop_async(self, grace: str | float | timedelta = 30) -> None:
        """Stop creating runs, let running ones finish within `grace`, record the rest
        interrupted, and close the store."""
        engine, self._engine = self._engine, None
        if engine is not None:
            await engine.stop(duration_setting(grace, "grace", allow_zero=True))
        await asyncio.to_thread(self.close)

    def start(self) -> None:
        """Start the engine in a background thread with its own event loop (for sync apps)."""
        if self._thread is not None or self._engine is not None:
            raise RotaError("rota is already running")
        started = threading.Event()
        failure: list[BaseException] = []

        def main() -> None:
            loop = asyncio.new_event_loop()
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self.start_async())
            except BaseException as error:
                failure.append(error)
                started.set()
                loop.close()
                return
            started.set()
            loop.run_forever()
            loop.close()

        self._thread = threading.Thread(target=main, name="rota-engine", daemon=True)
        self._thread.start()
        started.wait()
        if failure:
            self._thread.join()
            self._thread = None
            raise failure[0]

    def stop(self, grace: str | float | timedelta = 30) -> None:
        """Stop a `start`-ed engine (see `stop_async`); blocks until it has stopped."""
        thread, loop = self._thread, self._loop
        if thread is None or loop is None:
            if self._engine is not None:
                raise RotaError("rota runs on an event loop here: use 'await rota.stop_async()'")
            self.close()
            return
        asyncio.run_coroutine_threadsafe(self.stop_async(grace), loop).result()
        loop.call_soon_threadsafe(loop.stop)
        thread.join()
        self._thread = None

    def close(self) -> None:
        """Close the store (it reopens on the next use)."""
        with self._store_lock:
            if self._store is not None and self._store_open:
                self._store.close()
            self._store_open = False
            self._synced = False

    def __enter__(self) -> Rota:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    async def __aenter__(self) -> Rota:
        await self.start_async()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop_async()

    # -- admin actions ------------------------------------------------------------------------

    def run_now(self, name: str, **args: Any) -> int:
        """Queue a manual run with keyword arguments (JSON values), through the job's overlap
        policy: the id of the run, which may be recorded skipped with the reason."""
        definition = self._definition(name)
        try:
            json.dumps(args)
        except (TypeError, ValueError) as error:
            raise SettingError(
                "args", repr(args)[:60], f"arguments must be JSON: {error}"
            ) from None
        store, now = self._synced_store(), self.clock.now()
        settings = effective_settings(definition.settings, store.get_job(name))
        active = store.active_runs(name)
        running = [r.id for r in active if r.status is RunStatus.RUNNING]
        queued: list[int | None] = [r.id for r in active if r.status is RunStatus.QUEUED]
        decision = decide_overlap(settings.overlap, settings.max_concurrent, running, queued)
        note = "replaced by a run started by hand (overlap=replace)"
        operations: list[Operation] = [RequestCancel(i, now, note) for i in decision.cancel]
        status = RunStatus.QUEUED if decision.create else RunStatus.SKIPPED
        run = NewRun(name, Reason.MANUAL, now, status, args=args, note=decision.reason)
        operations.append(Enqueue(run))
        results = store.apply(operations)
        engine = self._engine
        created: int = results[-1]
        if engine is not None:
            for cancelled, before in zip(decision.cancel, results, strict=False):
                engine.notify_cancel(cancelled, before, note)
            if decision.create:
                engine.notify_run_queued(created)
        return created

    def cancel(self, run_id: int) -> RunRecord:
        """Cancel a queued or running run; a finished run is left as it is. The run, after."""
        store, note = self._synced_store(), "cancelled by an admin"
        before = store.apply([RequestCancel(run_id, self.clock.now(), note)])[0]
        if before is None:
            raise UnknownRunError(run_id)
        if self._engine is not None:
            self._engine.notify_cancel(run_id, before, note)
        return self.get_run(run_id)

    def set_schedule(self, name: str, schedule: Schedule | str) -> JobInfo:
        """Override a job's schedule (text is read in the Rota's time zone)."""
        value = to_schedule(schedule, self.timezone)
        record = self._record(name)
        override = {**record.override, "schedule": value.to_dict()}
        following = None if record.paused else value.next_after(self.clock.now())
        return self._update(name, override=override, next_fire_at=following)

    def pause(self, name: str, note: str | None = None) -> JobInfo:
        """Stop a job firing on its schedule (it can still be run by hand)."""
        self._record(name)
        return self._update(name, paused=True, pause_note=note, next_fire_at=None)

    def resume(self, name: str) -> JobInfo:
        """Let a paused job fire again, from its next fire time after now."""
        record = self._record(name)
        settings = effective_settings(self._definition(name).settings, record)
        following = settings.schedule.next_after(self.clock.now())
        return self._update(name, paused=False, pause_note=None, next_fire_at=following)

    def reset(self, name: str) -> JobInfo:
        """Drop every admin override and pause: the job is as its code says again."""
        self._record(name)
        schedule = self._definition(name).settings.schedule
        following = schedule.next_after(self.clock.now())
        return self._update(
            name, override={}, paused=False, pause_note=None, next_fire_at=following
        )

    def _update(self, name: str, **changes: Any) -> JobInfo:
        self._synced_store().apply([UpdateJob(name, self.clock.now(), **changes)])
        if self._engine is not None:
            self._engine.notify_job_changed(name)
        return self.job_info(name)

    # -- reading ------------------------------------------------------------------------------

    def jobs(self) -> list[JobInfo]:
        """Every job, by name: those in code, and those the store remembers but code lost."""
        store = self._synced_store()
        stats = store.job_stats()
        return [
            self._info(record, stats[record.name].last_run if record.name in stats else None)
            for record in store.list_jobs()
        ]

    def job_info(self, name: str) -> JobInfo:
        """One job."""
        record = self._record(name)
        stats = self._synced_store().job_stats([name]).get(name)
        return self._info(record, None if stats is None else stats.last_run)

    def runs(
        self,
        job: str | None = None,
        status: str | Collection[str] | None = None,
        limit: int = 50,
        before_id: int | None = None,
    ) -> list[RunRecord]:
        """Runs, newest first; of one job, in some statuses, below an id (for paging)."""
        if job is not None:
            self._record(job)
        statuses = None if status is None else _statuses(status)
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 10_000:
            raise SettingError("limit", str(limit), f"{limit!r} is not a number 1-10000")
        return self._synced_store().list_runs(job, statuses, limit, before_id)

    def wait(self, run_id: int, timeout: float = 60.0) -> RunRecord:
        """Block until a run has finished (or was skipped) and return it; RotaError after
        `timeout` real seconds. For scripts and tests; the engine must be running elsewhere."""
        deadline = time.monotonic() + timeout
        while (run := self.get_run(run_id)).status in ACTIVE:
            if time.monotonic() > deadline:
                raise RotaError(f"run {run_id} is still {run.status.value} after {timeout} s")
            time.sleep(0.01)
        return run

    def get_run(self, run_id: int) -> RunRecord:
        """One run with everything it recorded: times, status, error, progress, log."""
        run = self._synced_store().get_run(run_id)
        if run is None:
            raise UnknownRunError(run_id)
        return run

    # -- helpers ------------------------------------------------------------------------------

    def _definition(self, name: str) -> JobDefinition:
        definition = self._definitions.get(name)
        if definition is None:
            raise UnknownJobError(name)
        return definition

    def _record(self, name: str) -> JobRecord:
        record = self._synced_store().get_job(name)
        if record is None:
            raise UnknownJobError(name)
        return record

    def _synced_store(self) -> Store:
        """The store, with the code's jobs in it (the engine does this at start; admin actions
        before start need the rows too)."""
        store = self.store
        if not self._synced and self._engine is None:
            defaults = {name: d.stored_defaults for name, d in self._definitions.items()}
            # Only adds missing rows: a process without an engine changes no defaults.
            store.sync_jobs(defaults, self.clock.now(), update=False)
        self._synced = True
        return store

    def _info(self, record: JobRecord, last: RunRecord | None) -> JobInfo:
        definition = self._definitions.get(record.name)
        if definition is not None:
            settings = effective_settings(definition.settings, record)
        else:
            stored = record.defaults.get("schedule")
            base = JobSettings(schedule=Schedule.from_dict(stored) if stored else Manual())
            settings = base.with_json(record.defaults).with_json(record.override)
        return JobInfo(
            name=record.name,
            description=settings.description,
            schedule=settings.schedule,
            settings=settings,
            overridden=tuple(sorted(record.override)),
            paused=record.paused,
            pause_note=record.pause_note,
            # What this process's code defines (decision 0006 makes it what live nodes
            # registered; the facade is being rewritten to say that).
            in_code=record.name in self._definitions,
            next_fire_at=record.next_fire_at,
            last_run=last,
        )


def _statuses(value: str | Collection[str]) -> set[RunStatus]:
    items = [value] if isinstance(value, str) else list(value)
    allowed = {status.value for status in RunStatus}
    for item in items:
        if item not in allowed:
            raise SettingError("status", str(item), f"{item!r} is not one of {sorted(allowed)}")
    return {RunStatus(item) for item in items}
