"""`Rota`: the facade an application touches. It registers jobs, owns the store, starts or stops
the engine (in the caller's asyncio loop, or in a background thread for sync apps), and offers
every admin action and read, each in a sync form and an ``_async`` form.

Admin actions are store transactions (`rota.admin.commands`): they work the same whether the
engine runs in this process, in another one, on another node, or nowhere.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import threading
import time
from collections.abc import AsyncGenerator, Callable, Collection
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any, TypeVar, Unpack

from rota.admin.commands import Commands
from rota.admin.events import Callbacks, follow
from rota.admin.limiters import LimiterInfo, limiter_infos
from rota.admin.views import JobInfo, RunPage, Views
from rota.calls import (
    Duration,
    Running,
    checked_run_id,
    checked_seconds,
    in_thread,
    on_loop,
    refuse_inside_a_run,
)
from rota.clock import Clock, SystemClock
from rota.engine.core import Engine
from rota.engine.isolation import refuse_in_a_starting_child
from rota.engine.jobs import JobDefinition, doc_description, import_path, load_target
from rota.engine.limiter import DEFAULT_MAX_WAIT, LimiterSpec
from rota.engine.retention import prune_job
from rota.engine.settings import JobSettings, SettingValues, duration_setting
from rota.errors import RotaError, SettingError
from rota.schedules import Manual, Preview, Schedule, preview
from rota.schedules.zones import resolve_zone
from rota.store import open_store
from rota.store.abc import Store
from rota.store.records import ACTIVE, EventRecord, JobKind, Reason, RunRecord

__all__ = ["Rota"]

F = TypeVar("F", bound=Callable[..., Any])


class Rota:
    """Named jobs on schedules, with policies and a recorded history. See the README."""

    def __init__(
        self,
        database_url: str = "sqlite:///rota.db",
        *,
        timezone: str | None = None,
        clock: Clock | None = None,
        workers: int = 10,
        heartbeat: Duration = 15,
        lease: Duration = 60,
        shutdown_grace: Duration = 5,
    ) -> None:
        """`heartbeat` is how often this node renews its lease and looks for dead nodes;
        `lease` how long a node that stopped renewing counts as alive (at least two
        heartbeats): the longest a dead node's runs wait to be recorded interrupted.
        `shutdown_grace` is how long a stop lets running runs finish by default (a container
        platform usually kills a process 10 s after asking it to stop)."""
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
        self.shutdown_grace = duration_setting(shutdown_grace, "shutdown_grace", allow_zero=True)
        self.database_url = database_url
        self.timezone = resolve_zone(timezone)
        self.clock: Clock = clock or SystemClock()
        self.workers = workers
        self._definitions: dict[str, JobDefinition] = {}
        self._limiters: dict[str, LimiterSpec] = {}
        self._store: Store | None = None
        self._store_open = False
        self._store_lock = threading.Lock()
        self._engine: Engine | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop_lock = threading.Lock()
        self._synced = False
        self._views = Views(self._synced_store, self.clock, self.lease)
        self._commands = Commands(
            self._synced_store,
            self.clock,
            self.timezone,
            self._definitions,
            self._registered,
        )
        self._callbacks = Callbacks(lambda: self.store)
        self._add(prune_job(lambda: self._engine))

    # -- jobs in code -------------------------------------------------------------------------

    def job(self, name: str, **settings: Unpack[SettingValues]) -> Callable[[F], F]:
        """Register a sync or async function as a job; its settings are the code's defaults.

        `schedule` is a Schedule or its text (``"daily 02:00"``), read in the Rota's time zone;
        none means manual. The function takes ``ctx`` first, or nothing, plus keyword
        arguments: `args` are given to every run, and a run's own arguments win. A bad value
        raises SettingError or ScheduleError naming it. Jobs may be registered after start.
        """
        built = JobSettings.build(self.timezone, **settings)

        def register(function: F) -> F:
            text = built.description or doc_description(function)
            definition = JobDefinition.create(name, function, replace(built, description=text))
            # A scheduled job's runs get only its `args`: they must be all it needs.
            scheduled = not isinstance(built.schedule, Manual)
            definition.check_arguments(built.args, complete=scheduled)
            self._add(definition)
            return function

        return register

    def _add(self, definition: JobDefinition) -> None:
        if definition.name in self._definitions:
            raise SettingError(
                "job name", definition.name, f"a job named {definition.name!r} is registered"
            )
        self._definitions[definition.name] = definition
        self._synced = False
        engine, loop = self._engine, self._loop
        if engine is not None and loop is not None:
            # The row now, so that the job can be used at once; its first fire time as soon
            # as the engine takes it up (at once, unless this is the engine's own loop).
            self._synced_store()
            future = asyncio.run_coroutine_threadsafe(engine.add_definition(definition), loop)
            if not on_loop(loop):
                future.result()

    # -- limiters and spawned runs (decision 0012) --------------------------------------------

    def limiter(
        self, name: str, capacity: int, per: Duration, *, max_wait: Duration = DEFAULT_MAX_WAIT
    ) -> LimiterSpec:
        """Declare a rate limit shared by every node on the store: `capacity` tokens per `per`
        (``rota.limiter("tmdb", 40, per="10s")``). Jobs draw on it with ``ctx.limit(name)``;
        a run that would wait longer than `max_wait` gives its worker back and is tried again
        once capacity is back, each time in a row allowed to wait twice as long, and failed at
        the 8th (decision 0012). Declaring a name again replaces its limit (a new API tier,
        say). SettingError names a bad value."""
        spec = LimiterSpec.create(name, capacity, per, max_wait)
        self._limiters[spec.name] = spec
        return spec

    def limiters(self) -> list[LimiterInfo]:
        """Every limiter (declared here, or known to the store): use, capacity, next refill."""
        return limiter_infos(self.store, self._limiters, self.clock.now())

    def enqueue(self, name: str, /, key: str | None = None, **args: Any) -> int | None:
        """Queue a one-off run of a job with keyword arguments (JSON values), reason
        ``spawned``: its id, or None if a queued or running run of the job has the same
        `key`. The arguments are checked as `run_now` checks them. Inside a job, use
        ``ctx.spawn`` (batched, and linked to the run)."""
        return self._commands.enqueue(name, args, key)

    # -- jobs at run time ---------------------------------------------------------------------

    def add_job(
        self, name: str, function: str | Callable[..., Any], **settings: Unpack[SettingValues]
    ) -> JobInfo:
        """Store a job defined at run time: `function` is ``"package.module:function"`` (or a
        module-level function, stored by that path) that every node imports to run it. It
        takes the settings of `job`. ConflictError if the name is taken."""
        target = function if isinstance(function, str) else import_path(function)
        built = JobSettings.build(self.timezone, **settings)
        loaded = load_target(target)
        if not built.description:
            built = replace(built, description=doc_description(loaded))
        definition = JobDefinition.create(name, loaded, built)
        self._commands.add_job(name, target, built, definition=definition)
        return self.job_info(name)

    def remove_job(self, name: str) -> None:
        """Delete a run-time job, or a code job no live node defines any more (orphaned), with
        its history. ConflictError for a job in live code or with a running run."""
        self._commands.remove_job(name, lambda: self._views.registered() or set())

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
        """The running engine, if any."""
        return self._engine

    async def start_async(self) -> None:
        """Start the engine on the running event loop."""
        refuse_in_a_starting_child()
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
            limiters=self._limiters,
        )
        self._engine = engine
        self._loop = asyncio.get_running_loop()
        try:
            await engine.start()
        except BaseException:
            self._engine = None
            raise

    async def stop_async(self, grace: Duration | None = None) -> None:
        """Stop creating runs, let running ones finish within `grace` (default: the Rota's
        `shutdown_grace`), record the rest interrupted, and close the store."""
        refuse_inside_a_run("stop_async")
        engine, self._engine = self._engine, None
        if engine is not None:
            await engine.stop(self._grace(grace))
        # Not in a worker thread: at interpreter exit (atexit) no new thread may start.
        self.close()

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

    def stop(self, grace: Duration | None = None) -> None:
        """Stop a `start`-ed engine (see `stop_async`) and wait until it has stopped. Safe from
        any thread, a signal handler or atexit, and more than once."""
        refuse_inside_a_run("stop")
        with self._stop_lock:
            thread, loop = self._thread, self._loop
            if thread is None or loop is None or loop.is_closed():
                if self._engine is not None:
                    raise RotaError(
                        "rota runs on an event loop here: use 'await rota.stop_async()'"
                    )
                self.close()
                return
            if on_loop(loop):
                raise RotaError("rota.stop() would wait for its own loop: use stop_async()")
            if thread.is_alive():
                stopping = asyncio.run_coroutine_threadsafe(self.stop_async(grace), loop)
                while thread.is_alive():  # a loop that died never answers: don't wait for it
                    try:
                        stopping.result(timeout=0.25)
                        break
                    except concurrent.futures.TimeoutError:
                        continue
                with contextlib.suppress(RuntimeError):  # closed meanwhile
                    loop.call_soon_threadsafe(loop.stop)
                thread.join()
            self._thread = None
            self._engine = None
            self.close()

    def close(self) -> None:
        """Close the store (it reopens on the next use); not while the engine runs."""
        if self._engine is not None:
            raise RotaError("rota's engine runs on this store: stop it (stop/stop_async) first")
        self._callbacks.close()
        with self._store_lock:
            if self._store is not None and self._store_open:
                self._store.close()
            self._store_open = False
            self._synced = False

    def running(self, grace: Duration | None = None) -> Running[Rota]:
        """``with rota.running(grace="10s"):`` or ``async with ...``: start, and stop with
        this grace on the way out (plain ``with rota:`` uses `shutdown_grace`)."""
        return Running(self, self._grace(grace))

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

    def _grace(self, grace: Duration | None) -> timedelta:
        if grace is None:
            return self.shutdown_grace
        return duration_setting(grace, "grace", allow_zero=True)

    # -- admin actions ------------------------------------------------------------------------

    def run_now(self, name: str, /, **args: Any) -> int:
        """Queue a manual run with keyword arguments (JSON values), through the job's overlap
        policy: the id of the run, which may be recorded skipped with the reason. It does not
        move the job's next scheduled run. The arguments are checked against the job's
        function, or where this process does not have it, against the parameters its node
        stored with the job: SettingError names the parameter."""
        return self._commands.run_now(name, args)

    def run_later(self, name: str, at: datetime, /, **args: Any) -> int:
        """Queue a manual run that starts at `at` (an aware datetime in the future), or as soon
        after as the job has room; durable and cancellable like any queued run."""
        return self._commands.run_now(name, args, at=at)

    def cancel(self, run_id: int) -> RunRecord:
        """Cancel a queued or running run; a finished run is left as it is. The run, after."""
        return self._commands.cancel(checked_run_id(run_id))

    def retry(self, run_id: int) -> int:
        """Queue the next attempt of a failed, timed-out, interrupted or cancelled run now;
        the new run's id."""
        return self._commands.retry(checked_run_id(run_id))

    def pause(self, name: str, note: str | None = None) -> JobInfo:
        """Stop a job firing on its schedule (it can still be run by hand), with a note."""
        self._commands.pause(name, note)
        return self.job_info(name)

    def resume(self, name: str) -> JobInfo:
        """Let a paused job fire again, from its next fire time after now."""
        self._commands.resume(name)
        return self.job_info(name)

    def set_schedule(self, name: str, schedule: Schedule | str) -> JobInfo:
        """Override a job's schedule (text is read in the Rota's time zone)."""
        return self.override(name, schedule=schedule)

    def override(self, name: str, /, **settings: Unpack[SettingValues]) -> JobInfo:
        """Override any of a job's settings: schedule, args, overlap, max_concurrent,
        catch_up, grace, retry, timeout, start_delay, retention (as code or JSON gives them).
        SettingError names the first bad one; nothing is changed then."""
        self._commands.override(name, settings)
        return self.job_info(name)

    def reset(self, name: str, /, *settings: str) -> JobInfo:
        """Drop the overrides of the named settings; with none named, every override and the
        pause: the job is as its code says again."""
        self._commands.reset(name, settings)
        return self.job_info(name)

    # -- reading ------------------------------------------------------------------------------

    def jobs(self, *, internal: bool = False) -> list[JobInfo]:
        """Every job by name, with what a jobs page shows; rota's own jobs with `internal`."""
        return self._views.jobs(internal=internal)

    def job_info(self, name: str) -> JobInfo:
        """One job."""
        return self._views.job(name)

    def runs(
        self,
        job: str | None = None,
        status: str | Collection[str] | None = None,
        limit: int = 50,
        before_id: int | None = None,
        *,
        reason: str | Collection[str] | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        parent_run_id: int | None = None,
    ) -> RunPage:
        """A page of runs, newest first: of one job, in some statuses, for some reasons,
        queued in [since, until), spawned by run `parent_run_id`, below an id; with the total
        matching (`RunPage.total`)."""
        if before_id is not None and (
            isinstance(before_id, bool) or not isinstance(before_id, int) or before_id < 1
        ):
            raise SettingError("before_id", repr(before_id)[:40], "give a run id (a number >= 1)")
        for name, value in (("since", since), ("until", until)):
            if value is not None and (not isinstance(value, datetime) or value.tzinfo is None):
                raise SettingError(name, repr(value)[:60], "give an aware datetime")
        return self._views.runs(job, status, reason, since, until, limit, before_id, parent_run_id)

    def get_run(self, run_id: int) -> RunRecord:
        """One run with everything it recorded: times, status, error, progress, log."""
        return self._commands.run(checked_run_id(run_id))

    def wait(self, run_id: int, timeout: float = 60.0, *, retries: bool = True) -> RunRecord:
        """Block until a run has finished (or was skipped) and return it; with `retries`,
        a failed run's retries are followed to the last attempt. RotaError after `timeout`
        real seconds. Not for the engine's own loop: use `wait_async` there."""
        refuse_inside_a_run("wait")
        if self._loop is not None and on_loop(self._loop):
            raise RotaError("rota.wait() would block the engine's loop: use 'await wait_async()'")
        deadline = time.monotonic() + checked_seconds(timeout)
        while True:
            run = self.get_run(run_id)
            if run.status not in ACTIVE:
                following = self._retry_of(run) if retries else None
                if following is None:
                    return run
                run_id = following
            if time.monotonic() > deadline:
                raise RotaError(f"run {run_id} is still {run.status.value} after {timeout} s")
            time.sleep(0.01)

    async def wait_async(
        self, run_id: int, timeout: float = 60.0, *, retries: bool = True
    ) -> RunRecord:
        """`wait` for async code: it never blocks the loop."""
        deadline = time.monotonic() + checked_seconds(timeout)
        while True:
            run = await self.get_run_async(run_id)
            if run.status not in ACTIVE:
                following = await asyncio.to_thread(self._retry_of, run) if retries else None
                if following is None:
                    return run
                run_id = following
            if time.monotonic() > deadline:
                raise RotaError(f"run {run_id} is still {run.status.value} after {timeout} s")
            await asyncio.sleep(0.01)

    def _retry_of(self, run: RunRecord) -> int | None:
        """The id of the retry queued for a finished run, if any (created with its finish)."""
        if run.finished_at is None:
            return None
        page = self._views.runs(run.job, None, Reason.RETRY.value, run.finished_at, None, 50, None)
        found = [r.id for r in page if r.retry_of == run.id]
        return min(found) if found else None

    def preview(
        self, schedule: Schedule | str, n: int = 5, after: datetime | None = None
    ) -> Preview:
        """The next `n` fire times of a schedule or its text, in the Rota's zone, with DST notes
        (what a schedule dialog shows as the admin types)."""
        return preview(schedule, n, after or self.clock.now(), tz=self.timezone)

    # -- events -------------------------------------------------------------------------------

    async def events(self, after: int | None = None) -> AsyncGenerator[EventRecord]:
        """Every committed change from the store, in order, forever: ``async for event in
        rota.events(after=last_id)``. `after` None starts from now; 0 from the oldest kept."""
        if after is not None and (
            isinstance(after, bool) or not isinstance(after, int) or after < 0
        ):
            raise SettingError("after", repr(after)[:40], "give an event id (a number >= 0)")
        store = await asyncio.to_thread(lambda: self.store)
        # Closed with this generator, so that no follower is left pending when a caller stops.
        async with contextlib.aclosing(follow(store, after)) as events:
            async for event in events:
                yield event

    def on(self, kind: str, callback: Callable[[EventRecord], Any]) -> Callable[[], None]:
        """Call `callback(event)` on a thread of rota's for each event of `kind` (``"*"``, a
        family like ``"run."``, or a kind like ``"run.finished"``) committed from now on, by
        any process. Returns a function that stops it."""
        return self._callbacks.add(kind, callback)

    # -- the service ----------------------------------------------------------------------------

    # -- the async forms ----------------------------------------------------------------------

    run_now_async = in_thread(run_now)
    run_later_async = in_thread(run_later)
    cancel_async = in_thread(cancel)
    retry_async = in_thread(retry)
    pause_async = in_thread(pause)
    resume_async = in_thread(resume)
    set_schedule_async = in_thread(set_schedule)
    override_async = in_thread(override)
    reset_async = in_thread(reset)
    add_job_async = in_thread(add_job)
    remove_job_async = in_thread(remove_job)
    jobs_async = in_thread(jobs)
    job_info_async = in_thread(job_info)
    runs_async = in_thread(runs)
    get_run_async = in_thread(get_run)
    enqueue_async = in_thread(enqueue)
    limiters_async = in_thread(limiters)

    # -- helpers ------------------------------------------------------------------------------

    def _registered(self) -> set[str] | None:
        """The jobs live nodes have code for; this process's own while its engine runs (a job
        registered after start is in its node's row moments later)."""
        found = self._views.registered()
        if self._engine is None:
            return found
        return (found or set()) | set(self._definitions)

    def _synced_store(self) -> Store:
        """The store, with this process's code jobs in it: a process without an engine only
        adds the rows its admin actions need, and never changes what running nodes report."""
        store = self.store
        if not self._synced:
            defaults = {name: d.stored_defaults for name, d in self._definitions.items()}
            internal = {n for n, d in self._definitions.items() if d.kind is JobKind.INTERNAL}
            store.sync_jobs(defaults, self.clock.now(), internal=internal, update=False)
        self._synced = True
        return store
