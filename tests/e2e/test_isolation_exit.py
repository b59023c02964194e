"""A process-isolated job stuck in time.sleep(3600) never keeps its app from exiting: not after
`rota.stop()`, and not when the app itself is killed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from rota import Rota
from rota.store.records import RunStatus

APP = Path(__file__).with_name("isolation_app.py")


def wait_for(check, timeout: float) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not reached within {timeout} s")
        time.sleep(0.02)


def gone(pid: int) -> bool:
    """No such process, or only its zombie (not this test's child: init may not reap it)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return True
    return state == "Z"


def start(tmp_path: Path, mode: str) -> tuple[subprocess.Popen[str], int]:
    app = subprocess.Popen(
        [sys.executable, str(APP), str(tmp_path / "rota.db"), str(tmp_path / "marker"), mode],
        cwd=Path(__file__).parents[2],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert app.stdout is not None
    line = app.stdout.readline()  # the app waits at most a spawn's time for its job
    assert line.startswith("child "), line
    return app, int(line.split()[1])


def test_stop_ends_a_hung_job_process_and_the_app_exits(tmp_path: Path) -> None:
    app, pid = start(tmp_path, "stop")
    try:
        began = time.monotonic()
        output, _ = app.communicate(timeout=30)
        assert time.monotonic() - began < 8  # grace 1 s, then SIGTERM: about a second
    finally:
        app.kill()
    assert app.returncode == 0
    assert output == "stopped\n"
    assert gone(pid)
    assert (tmp_path / "marker").read_text() == "cancelled=True"  # its `finally` ran
    rota = Rota(f"sqlite:///{tmp_path / 'rota.db'}", timezone="UTC")
    try:
        assert rota.runs("hang")[0].status is RunStatus.INTERRUPTED
    finally:
        rota.close()


def test_a_job_process_ends_when_its_app_is_killed(tmp_path: Path) -> None:
    app, pid = start(tmp_path, "wait")
    os.kill(app.pid, signal.SIGKILL)
    app.communicate(timeout=10)
    wait_for(lambda: gone(pid), 15)  # it sees its pipe to the app close: SIGTERM to itself
