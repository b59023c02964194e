"""Starting and stopping: from any thread, atexit or a signal handler; within a grace that fits
a container platform's 10 s; never from inside a run or on the engine's own loop."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest

from rota import Rota, RotaError
from rota.store.records import RunStatus
from rota.testing import FakeClock
from tests.engine.conftest import eventually, outcome

MakeRota = Callable[..., Rota]


def nothing() -> None:
    """Does nothing."""


def run_script(tmp_path: Path, body: str) -> subprocess.CompletedProcess[str]:
    script = tmp_path / "app.py"
    script.write_text(textwrap.dedent(body))
    return subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        check=False,
    )


def test_stop_is_safe_at_exit_and_records_what_still_runs(tmp_path: Path) -> None:
    done = run_script(
        tmp_path,
        """
        import atexit, threading
        from rota import Rota
        rota = Rota("sqlite:///exit.db", shutdown_grace=0.2)
        started = threading.Event()
        @rota.job("slow")
        async def slow():
            import asyncio
            started.set()
            await asyncio.sleep(60)
        rota.start()
        atexit.register(rota.stop)
        rota.run_now("slow")
        started.wait(10)
        print("leaving")
        """,
    )
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    reader = Rota(f"sqlite:///{tmp_path}/exit.db")
    (run,) = reader.runs("slow")
    assert run.status is RunStatus.INTERRUPTED
    reader.close()


def test_stop_from_several_threads_at_once_stops_once(tmp_path: Path) -> None:
    rota = Rota(f"sqlite:///{tmp_path}/rota.db")
    rota.job("quick")(nothing)
    rota.start()
    errors: list[BaseException] = []

    def stop() -> None:
        try:
            rota.stop()
        except BaseException as error:  # pragma: no cover - the assertion shows it
            errors.append(error)

    threads = [threading.Thread(target=stop) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    assert errors == []
    assert rota.engine is None
    rota.stop()  # and once more, after it stopped


async def test_the_default_stop_ends_within_the_shutdown_grace(
    rotas: MakeRota, clock: FakeClock
) -> None:
    rota = rotas()
    assert rota.shutdown_grace == timedelta(seconds=5)
    release = threading.Event()
    rota.job("stuck")(lambda: release.wait(30))
    await rota.start_async()
    run_id = rota.run_now("stuck")
    await eventually(lambda: rota.get_run(run_id).status is RunStatus.RUNNING)
    stopping = asyncio.create_task(rota.stop_async())
    await asyncio.sleep(0.05)
    assert not stopping.done()
    clock.advance(timedelta(seconds=5))
    await asyncio.wait_for(stopping, 10)
    release.set()
    assert rota.get_run(run_id).status is RunStatus.INTERRUPTED


async def test_async_with_takes_a_grace(rotas: MakeRota, clock: FakeClock) -> None:
    rota = rotas()
    release = threading.Event()
    rota.job("stuck")(lambda: release.wait(30))
    async with rota.running(grace=0):
        run_id = rota.run_now("stuck")
        await eventually(lambda: rota.get_run(run_id).status is RunStatus.RUNNING)
    release.set()
    assert rota.get_run(run_id).status is RunStatus.INTERRUPTED


async def test_blocking_calls_on_the_engines_loop_name_the_async_form(rotas: MakeRota) -> None:
    rota = rotas()
    rota.job("quick")(nothing)
    await rota.start_async()
    run_id = rota.run_now("quick")
    with pytest.raises(RotaError, match="wait_async"):
        rota.wait(run_id)
    assert (await rota.wait_async(run_id, timeout=10)).status is RunStatus.SUCCEEDED
    with pytest.raises(RotaError, match="stop_async"):
        rota.stop()


async def test_stop_and_wait_from_inside_a_run_are_refused(rotas: MakeRota) -> None:
    rota = rotas()

    def impatient() -> None:
        rota.stop()

    async def waits() -> None:
        rota.wait(1)

    rota.job("impatient")(impatient)
    rota.job("waits")(waits)
    await rota.start_async()
    for name in ("impatient", "waits"):
        run = await outcome(rota, rota.run_now(name))
        assert run.status is RunStatus.FAILED
        assert "cannot be called from inside a run" in (run.error or "")
    assert rota.engine is not None


async def test_wait_follows_a_failed_run_to_its_retry(rotas: MakeRota, clock: FakeClock) -> None:
    rota = rotas()
    calls: list[int] = []

    def flaky() -> None:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("once")

    rota.job("flaky", retry={"attempts": 2, "backoff": "1s"})(flaky)
    await rota.start_async()
    first = rota.run_now("flaky")
    waiting = asyncio.create_task(rota.wait_async(first, timeout=10))
    await eventually(lambda: rota.get_run(first).status is RunStatus.FAILED)
    clock.advance(timedelta(seconds=5))
    last = await waiting
    assert (last.status, last.attempt, last.retry_of) == (RunStatus.SUCCEEDED, 2, first)
    assert (await rota.wait_async(first, retries=False)).status is RunStatus.FAILED


async def test_every_admin_call_has_an_async_form_that_does_the_same(rotas: MakeRota) -> None:
    rota = rotas()
    rota.job("quick", schedule="every 1h")(nothing)
    await rota.start_async()
    run = await rota.wait_async(await rota.run_now_async("quick"))
    assert (await rota.get_run_async(run.id)).status is RunStatus.SUCCEEDED
    assert (await rota.pause_async("quick", "note")).pause_note == "note"
    assert not (await rota.resume_async("quick")).paused
    assert (await rota.set_schedule_async("quick", "every 2h")).schedule.text == "every 2h"
    assert (await rota.reset_async("quick")).schedule.text == "every 1h"
    assert [j.name for j in await rota.jobs_async()] == ["quick"]
    assert (await rota.runs_async("quick")).total == 1
    sync_names = {
        name for name in dir(Rota) if not name.startswith("_") and callable(getattr(Rota, name))
    }
    for name in (
        "run_now",
        "run_later",
        "cancel",
        "retry",
        "pause",
        "resume",
        "set_schedule",
        "override",
        "reset",
        "add_job",
        "remove_job",
        "jobs",
        "job_info",
        "runs",
        "get_run",
        "wait",
    ):
        assert f"{name}_async" in sync_names, name


def test_a_sync_job_that_never_returns_does_not_keep_a_stopped_app_alive(tmp_path: Path) -> None:
    started = time.monotonic()
    done = run_script(
        tmp_path,
        """
        import threading, time
        from rota import Rota
        rota = Rota("sqlite:///stuck.db", shutdown_grace=0.5)
        running = threading.Event()
        @rota.job("stuck")
        def stuck():
            running.set()
            time.sleep(3600)
        rota.start()
        rota.run_now("stuck")
        running.wait(20)
        rota.stop()
        print("stopped")
        """,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "stopped"
    assert time.monotonic() - started < 30  # not the job's hour: the thread ends with the app
    reader = Rota(f"sqlite:///{tmp_path}/stuck.db")
    (run,) = reader.runs("stuck")
    assert run.status is RunStatus.INTERRUPTED
    reader.close()


def test_an_app_that_never_configured_logging_still_sees_warnings(tmp_path: Path) -> None:
    # Found by trying rota: a capture handler on the root logger switched off Python's
    # last-resort handler, so warnings vanished while the engine ran.
    done = run_script(
        tmp_path,
        """
        import logging
        from rota import Rota
        rota = Rota("sqlite:///quiet.db")
        @rota.job("noisy")
        def noisy():
            logging.getLogger("app.job").warning("inside the job")
        rota.start()
        logging.getLogger("app").warning("while rota runs")
        run = rota.wait(rota.run_now("noisy"))
        rota.stop()
        print(run.status.value, "inside the job" in run.log)
        """,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["succeeded", "True"]  # the job's record is in its log
    assert "while rota runs" in done.stderr
    assert "inside the job" in done.stderr
