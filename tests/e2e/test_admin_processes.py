"""Administering a running app from another process, on one SQLite file and on PostgreSQL
(issue 9, decision 0006).

The app, tests/e2e/admin_app.py, is a process of its own with an engine, its jobs and the real
system clock. The test process is what a CLI or a second web worker would be: a `Rota` on the
same store with no engine and no code for the app's jobs. Everything it does is a store
transaction that the app hears (PostgreSQL: NOTIFY; SQLite: the store's watcher thread, every
0.25 s), so each test checks both what rota recorded and what the app's jobs did (marks, files
the jobs write). Latencies are measured from the store's own times and printed (``-rP`` shows
them); every wait polls with a deadline, and a failure shows the app's log and thread stacks.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import pytest

from rota import ConflictError, EventRecord, Rota, SettingError, UnknownJobError, once
from rota.store.records import JobKind, Reason, RunRecord, RunStatus
from tests.postgres import store_url_for

APP = Path(__file__).with_name("admin_app.py")
ROOT = Path(__file__).parents[2]
CODE_JOBS = {"greet", "look", "report", "slow", "tick"}
# The requirement is "within a second" (SQLite: a watcher looks every 0.25 s); the margin is for
# a busy two-core machine running the store, the app and the test.
WITHIN = timedelta(seconds=1.5)
DEADLINE = 15.0  # seconds: far beyond anything here, short enough to fail fast
T = TypeVar("T")


# -- the store and the app ---------------------------------------------------------------------


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def store_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A SQLite file, or a PostgreSQL schema of this module's own (dropped at the end)."""
    yield from store_url_for(request.param, tmp_path_factory.mktemp("sqlite"))


class App:
    """The app process (started again by `running` if a test stopped it), its log and marks."""

    def __init__(self, url: str, directory: Path) -> None:
        self.url = url
        self.directory = directory
        self.marks = directory / "marks"
        self.marks.mkdir()
        self.process: subprocess.Popen[bytes] | None = None
        self.log = directory / "app-0.log"
        self.starts = 0

    def running(self) -> App:
        if self.process is None or self.process.poll() is not None:
            self.start()
        return self

    def start(self) -> None:
        self.log = self.directory / f"app-{self.starts}.log"
        self.starts += 1
        # This worktree's rota, and tests.e2e.admin_jobs for the jobs added at run time.
        path = [str(ROOT / "src"), str(ROOT), os.environ.get("PYTHONPATH", "")]
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in path if p)}
        with self.log.open("wb") as sink:
            self.process = subprocess.Popen(
                [sys.executable, str(APP), self.url, str(self.marks)],
                cwd=ROOT,
                env=env,
                stdout=sink,
                stderr=subprocess.STDOUT,
            )
        until(lambda: "admin_app: started" in self.text(), "the app to start", self, 30)

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def mark(self, name: str) -> Any:
        """A mark the app's jobs left (its JSON), or None."""
        path = self.marks / name
        return json.loads(path.read_text()) if path.exists() else None

    def report(self) -> str:
        """The app's log, with its threads' stacks if it still runs (for a failure)."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGUSR1)
            deadline = time.monotonic() + 3
            while "most recent call first" not in self.text() and time.monotonic() < deadline:
                time.sleep(0.05)
        state = "none" if self.process is None else self.process.poll()
        lines = self.text().splitlines()
        return f"--- app (exit {state}), {self.log}, last 60 lines:\n" + "\n".join(lines[-60:])

    def close(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)


@pytest.fixture(scope="module")
def app_process(store_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    started = App(store_url, tmp_path_factory.mktemp("app"))
    try:
        yield started
    finally:
        started.close()


@pytest.fixture
def app(app_process: App) -> App:
    """The app, running."""
    return app_process.running()


@pytest.fixture(scope="module")
def admin(store_url: str) -> Iterator[Rota]:
    """A process that only administers: no engine, no job definitions (like a CLI)."""
    rota = Rota(store_url, timezone="UTC")
    try:
        yield rota
    finally:
        rota.close()


def until(
    check: Callable[[], T | bool | None], what: str, app: App, timeout: float = DEADLINE
) -> T:
    """Poll `check` until it gives something true; fail after `timeout` s with the app's log."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value  # type: ignore[return-value]
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout} s\n{app.report()}")
        time.sleep(0.01)


def finished(admin: Rota, app: App, run_id: int) -> RunRecord:
    """Run `run_id` once it has finished."""

    def done() -> RunRecord | None:
        run = admin.get_run(run_id)
        return run if run.finished_at is not None else None

    return until(done, f"run {run_id} to finish", app)


def in_status(admin: Rota, app: App, run_id: int, status: RunStatus) -> RunRecord:
    def reached() -> RunRecord | None:
        run = admin.get_run(run_id)
        return run if run.status is status else None

    return until(reached, f"run {run_id} to be {status.value}", app)


def now() -> datetime:
    return datetime.now(UTC)


def seconds(delta: timedelta) -> str:
    return f"{delta.total_seconds() * 1000:.0f} ms"


def say(app: App, text: str) -> None:
    """Print a measurement, named by the store (``-rP`` shows it)."""
    print(f"{app.url.split(':')[0]}: {text}")


def no_errors(app: App) -> None:
    errors = [line for line in app.text().splitlines() if " ERROR " in line]
    assert not errors, app.report()


# -- reading ------------------------------------------------------------------------------------


def test_reading_never_changes_what_the_app_reports(app: App, admin: Rota, store_url: str) -> None:
    jobs = admin.jobs()
    assert {job.name for job in jobs} == CODE_JOBS
    assert all(job.in_code and job.kind is JobKind.CODE for job in jobs), jobs
    # A third process, fresh, reads too: it sees the same, and neither registered anything.
    third = Rota(store_url, timezone="UTC")
    try:
        assert all(third.job_info(name).in_code for name in CODE_JOBS)
        assert {job.name for job in third.jobs() if job.in_code} == CODE_JOBS
    finally:
        third.close()
    nodes = admin.store.list_nodes()
    live = [node for node in nodes if node.stopped_at is None]
    assert [node.pid for node in live] == [app.pid], nodes
    # What the running app itself reports, asked from inside it after those reads.
    run = finished(admin, app, admin.run_now("look"))
    assert run.status is RunStatus.SUCCEEDED, run
    assert app.mark(f"look-{run.id}.json") == dict.fromkeys(sorted(CODE_JOBS), True)
    assert all(job.in_code for job in admin.jobs())


# -- runs ---------------------------------------------------------------------------------------


def test_run_now_with_arguments_starts_within_a_second(app: App, admin: Rota) -> None:
    delays = []
    for i in range(5):
        run_id = admin.run_now("greet", name=f"n{i}", times=i)
        run = finished(admin, app, run_id)
        assert run.status is RunStatus.SUCCEEDED, run
        assert run.args == {"name": f"n{i}", "times": i}
        assert run.reason is Reason.MANUAL
        assert run.node is not None
        assert f":{app.pid}:" in run.node
        assert app.mark(f"greet-{run_id}.json") == {"name": f"n{i}", "times": i}
        assert run.started_at is not None
        # queued_at is taken just before the commit: this is at least the app's delay.
        delays.append(run.started_at - run.queued_at)
    say(app, f"run_now -> started: {', '.join(map(seconds, delays))}")
    assert max(delays) < WITHIN, delays


def test_arguments_are_checked_in_the_process_without_the_code(app: App, admin: Rota) -> None:
    """The admin process has no code for `greet`; the node that has it stored its parameters
    with the job, so bad arguments are refused at the call, naming the argument, and no run is
    made (decision 0006, point 8); good ones run on the node."""
    before = len(admin.runs("greet"))
    with pytest.raises(SettingError, match="'nope'"):
        admin.run_now("greet", name="x", nope=1)
    with pytest.raises(SettingError, match="'name'"):
        admin.run_now("greet")
    assert len(admin.runs("greet")) == before
    good = finished(admin, app, admin.run_now("greet", name="x"))
    assert good.status is RunStatus.SUCCEEDED, good
    assert app.mark(f"greet-{good.id}.json") is not None


def test_cancel_stops_a_running_run_and_its_job(app: App, admin: Rota) -> None:
    run_id = admin.run_now("slow")
    until(lambda: app.mark(f"slow-{run_id}.started") is not None, "slow to start", app)
    in_status(admin, app, run_id, RunStatus.RUNNING)
    asked = now()
    after = admin.cancel(run_id)
    assert after.status in (RunStatus.RUNNING, RunStatus.CANCELLED), after
    run = in_status(admin, app, run_id, RunStatus.CANCELLED)
    assert run.note == "cancelled by an admin", run
    until(lambda: app.mark(f"slow-{run_id}.stopped") is not None, "slow to see ctx.cancelled", app)
    assert app.mark(f"slow-{run_id}.done") is None
    assert run.finished_at is not None
    say(app, f"cancel -> recorded cancelled: {seconds(run.finished_at - asked)}")
    assert run.finished_at - asked < WITHIN
    # A queued run is cancelled by the transaction itself.
    later = admin.run_later("slow", now() + timedelta(hours=1))
    assert admin.cancel(later).status is RunStatus.CANCELLED
    assert app.mark(f"slow-{later}.started") is None


def test_run_later_starts_no_earlier_than_its_time(app: App, admin: Rota) -> None:
    at = now() + timedelta(seconds=1.2)
    run_id = admin.run_later("greet", at, name="later")
    queued = admin.get_run(run_id)
    assert (queued.status, queued.not_before) == (RunStatus.QUEUED, at)
    run = finished(admin, app, run_id)
    assert run.status is RunStatus.SUCCEEDED, run
    assert run.started_at is not None
    assert run.started_at >= at, (run.started_at, at)
    say(app, f"run_later: started {seconds(run.started_at - at)} after its time")
    assert run.started_at - at < WITHIN


# -- jobs ---------------------------------------------------------------------------------------


def tick_runs(admin: Rota, after: datetime) -> list[RunRecord]:
    page = admin.runs("tick", reason="schedule", since=after, limit=100)
    return list(page)


def test_pause_stops_firing_and_resume_starts_again(app: App, admin: Rota) -> None:
    begin = now()
    until(lambda: tick_runs(admin, begin), "tick to fire on its own", app)
    info = admin.pause("tick", "e2e")
    paused_at = now()
    assert info.paused
    assert info.pause_note == "e2e"
    assert info.next_fire_at is None
    # Two periods and more: a fire that was due as the pause committed is refused by the store.
    quiet_until = paused_at + timedelta(seconds=2.2)
    while now() < quiet_until:
        assert tick_runs(admin, paused_at) == [], "tick fired while paused"
        time.sleep(0.05)
    info = admin.resume("tick")
    resumed_at = now()
    assert not info.paused
    assert info.next_fire_at is not None
    # From its next fire time after the resume: within one period.
    assert paused_at < info.next_fire_at <= resumed_at + timedelta(seconds=1)
    first = until(lambda: tick_runs(admin, paused_at), "tick to fire again after resume", app)
    run = min(first, key=lambda r: r.id)
    # The app fires at the time the resume wrote.
    assert run.fire_time == info.next_fire_at, (run, info.next_fire_at)
    run = finished(admin, app, run.id)
    assert run.status is RunStatus.SUCCEEDED, run
    assert run.started_at is not None
    assert run.fire_time is not None
    say(
        app,
        f"resume: first tick started {seconds(run.started_at - run.fire_time)} after its fire time",
    )
    assert run.started_at - run.fire_time < WITHIN


def test_set_schedule_moves_the_next_fire_time_and_the_app_follows(app: App, admin: Rota) -> None:
    daily = admin.job_info("report").next_fire_at
    assert daily is not None
    assert (daily.hour, daily.minute) == (3, 0)
    begin = now()
    at = datetime.fromtimestamp(math.ceil(time.time()) + 1, UTC)
    info = admin.set_schedule("report", once(at))
    assert info.next_fire_at == at
    assert info.overridden == ("schedule",)

    def fired() -> RunRecord | None:
        runs = admin.runs("report", reason="schedule", limit=10)
        return next((r for r in runs if r.finished_at is not None), None)

    run = until(fired, "report to fire on its new schedule", app)
    assert run.status is RunStatus.SUCCEEDED, run
    assert run.fire_time == at, run
    assert run.started_at is not None
    assert run.started_at >= at
    late = run.started_at - at
    say(app, f"set_schedule: fired {seconds(late)} after its time, set {seconds(at - begin)} ahead")
    assert late < WITHIN
    assert admin.job_info("report").next_fire_at is None  # a one-shot that fired
    info = admin.reset("report", "schedule")
    assert info.next_fire_at == daily
    assert info.overridden == ()


def test_add_job_by_import_path_then_remove_it(app: App, admin: Rota) -> None:
    marks = str(app.marks)
    info = admin.add_job("added-now", "tests.e2e.admin_jobs:record", args={"marks": marks})
    assert (info.kind, info.target, info.in_code) == (
        JobKind.RUNTIME,
        "tests.e2e.admin_jobs:record",
        False,
    )
    # Run at once after the add: the app takes up the job and the run in that order.
    run = finished(admin, app, admin.run_now("added-now", tag="manual"))
    assert run.status is RunStatus.SUCCEEDED, run
    assert app.mark(f"added-{run.id}.json") == {"tag": "manual", "pid": app.pid, "job": "added-now"}
    # The admin has the function (by its import path): it names a refused argument at once.
    with pytest.raises(SettingError, match="bogus"):
        admin.run_now("added-now", tag="x", bogus=1)

    admin.add_job(
        "added-tick",
        "tests.e2e.admin_jobs:record",
        schedule="every 1s",
        args={"marks": marks, "tag": "tick"},
    )
    scheduled = until(
        lambda: next((r for r in admin.runs("added-tick", status="succeeded")), None),
        "the added job to fire in the app",
        app,
    )
    assert scheduled.reason is Reason.SCHEDULE
    assert app.mark(f"added-{scheduled.id}.json") == {
        "tag": "tick",
        "pid": app.pid,
        "job": "added-tick",
    }

    for name in ("added-now", "added-tick"):

        def removed(name: str = name) -> bool:
            try:
                admin.remove_job(name)
            except ConflictError:  # a run of it is running this moment
                return False
            return True

        until(removed, f"{name} to be removed", app)
        with pytest.raises(UnknownJobError):
            admin.job_info(name)
        with pytest.raises(UnknownJobError):
            admin.runs(name)  # its history went with it
    assert {job.name for job in admin.jobs()} == CODE_JOBS
    no_errors(app)


# -- events -------------------------------------------------------------------------------------


def test_events_of_one_run_from_another_process(app: App, admin: Rota) -> None:
    heard: list[EventRecord] = []
    start = admin.store.last_event_id()
    stop_hearing = admin.on("run.", heard.append)
    try:
        run_id, followed, lags = asyncio.run(follow_one_run(admin, start))
        ours = [e for e in followed if e.run_id == run_id]
        assert [e.kind for e in ours] == ["run.queued", "run.started", "run.finished"], ours
        assert ours[-1].data["status"] == "succeeded"
        ids = [e.id for e in followed]
        assert ids == sorted(set(ids))
        assert ids[0] > start
        # What the follower got is exactly what the table holds, without gaps.
        stored = admin.store.events_after(start, 1000)
        assert ids == [e.id for e in stored if e.id <= ids[-1]]
        # Written by the app's process, they reach this one within a second.
        late = [lags[e.id] for e in ours]
        say(app, f"events: queued, started, finished followed {', '.join(map(seconds, late))} late")
        assert max(late) < WITHIN

        def heard_it() -> list[EventRecord] | None:
            mine = [e for e in list(heard) if e.run_id == run_id]  # a copy: another thread adds
            return mine if mine and mine[-1].kind == "run.finished" else None

        heard_ours = until(heard_it, "rota.on to hear the run finish", app)
        assert [e.id for e in heard_ours] == [e.id for e in ours]
        assert all(e.kind.startswith("run.") for e in heard)
    finally:
        stop_hearing()

    # A follower that comes back with the last id it saw gets the rest, no gap, no duplicate.
    first, last = asyncio.run(take(admin, start, 2))
    rest, _ = asyncio.run(take(admin, last, len(followed) - 2))
    assert [e.id for e in first + rest] == ids


async def follow_one_run(
    admin: Rota, start: int
) -> tuple[int, list[EventRecord], dict[int, timedelta]]:
    """Follow events from `start` while a run is asked for, until that run has finished; the
    run's id, the events, and how long after its time each event reached the follower."""
    asked: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    seen: list[EventRecord] = []
    lags: dict[int, timedelta] = {}

    async def follow() -> None:
        async with contextlib.aclosing(admin.events(after=start)) as events:
            async for event in events:
                lags[event.id] = now() - event.at
                seen.append(event)
                if asked.done() and any(
                    e.run_id == asked.result() and e.kind == "run.finished" for e in seen
                ):
                    return

    follower = asyncio.create_task(follow())
    asked.set_result(await admin.run_now_async("greet", name="events"))
    await asyncio.wait_for(follower, DEADLINE)
    return asked.result(), seen, lags


async def take(admin: Rota, after: int, count: int) -> tuple[list[EventRecord], int]:
    """The next `count` events after `after`, and the last id seen; then the follower leaves."""
    got: list[EventRecord] = []
    async with asyncio.timeout(DEADLINE), contextlib.aclosing(admin.events(after=after)) as events:
        async for event in events:
            got.append(event)
            if len(got) == count:
                break
    return got, got[-1].id if got else after


def test_following_events_never_blocks_the_event_loop(app: App, admin: Rota) -> None:
    """Starting and leaving a follower (a web client's live view coming and going) must not
    stall the app's event loop: on PostgreSQL the follower's listener thread takes up to half
    a second to end, and SQLite's watcher a quarter."""
    stall = asyncio.run(worst_stall(admin, followers=5))
    say(
        app, f"events: the loop stalled at most {stall * 1000:.0f} ms while followers came and went"
    )
    assert stall < 0.2


async def worst_stall(admin: Rota, followers: int) -> float:
    """The longest the loop did not run a ticker (5 ms) while followers started, read one
    event, and left, one after the other."""
    loop = asyncio.get_running_loop()
    done = asyncio.Event()
    worst = 0.0

    async def ticker() -> None:
        nonlocal worst
        last = loop.time()
        while not done.is_set():
            await asyncio.sleep(0.005)
            worst = max(worst, loop.time() - last - 0.005)
            last = loop.time()

    ticking = asyncio.create_task(ticker())
    for _ in range(followers):
        got, _ = await take(admin, 0, 1)
        assert got
    done.set()
    await ticking
    return worst


# -- stopping -------------------------------------------------------------------------------------


def test_sigterm_stops_cleanly_and_records_running_runs_interrupted(app: App, admin: Rota) -> None:
    run_id = admin.run_now("slow")
    until(lambda: app.mark(f"slow-{run_id}.started") is not None, "slow to start", app)
    in_status(admin, app, run_id, RunStatus.RUNNING)
    assert app.process is not None
    app.process.send_signal(signal.SIGTERM)
    try:
        code = app.process.wait(timeout=DEADLINE)
    except subprocess.TimeoutExpired:
        raise AssertionError(f"the app did not stop\n{app.report()}") from None
    assert code == 0, app.report()
    assert "admin_app: stopped" in app.text()
    run = admin.get_run(run_id)
    assert run.status is RunStatus.INTERRUPTED, run
    assert run.note == "rota stopped before the run finished", run
    assert app.mark(f"slow-{run_id}.stopped") is not None
    node = next(n for n in admin.store.list_nodes() if n.pid == app.pid)
    assert node.stopped_at is not None
    # No node is alive: the one that ran last says what is in code.
    assert all(job.in_code for job in admin.jobs())
    no_errors(app)
