"""kill -9 during a run, then start again: the run is recorded interrupted and retried, and no
run row is lost or doubled."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from rota import Retry, Rota
from rota.store.records import Reason, RunStatus

APP = Path(__file__).with_name("crash_app.py")


def wait_for(check, timeout: float = 30.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not reached within {timeout} s")
        time.sleep(0.02)


def test_sigkill_mid_run_then_restart(tmp_path: Path) -> None:
    database, marker = tmp_path / "rota.db", tmp_path / "running"
    output = tmp_path / "child.log"
    with output.open("wb") as sink:
        child = subprocess.Popen(
            [sys.executable, str(APP), str(database), str(marker)],
            cwd=Path(__file__).parents[2],
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_for(lambda: marker.exists() and marker.read_text() != "")
            os.kill(child.pid, signal.SIGKILL)
            child.wait(timeout=10)
        finally:
            if child.poll() is None:
                child.kill()
                child.wait(timeout=10)
    assert child.returncode == -signal.SIGKILL, output.read_text()
    lost = int(marker.read_text())

    rota = Rota(f"sqlite:///{database}", timezone="UTC")
    done: list[int] = []

    @rota.job("backup", schedule="every 1h", retry=Retry(2, backoff="1s"))
    def backup(ctx) -> None:  # type: ignore[no-untyped-def]
        done.append(ctx.run.id)

    with rota:
        wait_for(lambda: len(done) == 1)
        wait_for(lambda: rota.runs("backup", status="succeeded") != [])
        run = rota.get_run(lost)
        assert run.status is RunStatus.INTERRUPTED
        assert run.note is not None
        assert f":{child.pid}:" in run.note
        assert run.progress_done is None or run.progress_done <= 1
        runs = rota.runs("backup", limit=100)
        assert {r.id for r in runs} == {lost, done[0]}
        retry = rota.get_run(done[0])
        assert (retry.reason, retry.attempt, retry.retry_of) == (Reason.RETRY, 2, lost)
        keys = [(r.job, r.fire_time, r.reason, r.attempt) for r in runs]
        assert len(keys) == len(set(keys))
