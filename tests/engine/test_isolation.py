"""isolation="process": a run in a process of its own, ended for real on timeout, cancel and stop.

Each spawned child costs a few hundred milliseconds: the tests start few, and in parallel.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest

from rota import Rota
from rota.engine import child
from rota.engine.isolation import Isolation
from rota.engine.process import died, outcome_from
from rota.engine.runs import Outcome
from rota.errors import SettingError
from rota.outcomes import Retry
from rota.store.records import RunStatus
from rota.testing import FakeClock
from tests.engine import isolated_jobs
from tests.engine.conftest import eventually, outcome

MakeRota = Callable[..., Rota]
SPAWN = 30.0  # real seconds a spawned child may take to report, on a busy machine


def gone(pid: int) -> bool:
    """Whether no process has this id (the children are this process's: ended is reaped)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def pid_of(rota: Rota, run_id: int) -> int | None:
    """The pid `isolated_jobs.hang` put in its progress note."""
    note = rota.get_run(run_id).progress_note
    return None if note is None else int(note)


def nested() -> Callable[[], None]:
    def inner() -> None:
        pass

    return inner


class Scanner:
    def scan(self) -> None:
        pass


def test_the_setting_is_read_overridden_and_refused_where_it_cannot_work() -> None:
    rota = Rota("memory://isolation-setting", timezone="UTC")
    with pytest.raises(SettingError, match="isolation: 'thread' is not one of none, process"):
        rota.job("scan", isolation="thread")(isolated_jobs.end)
    main = nested()
    main.__module__, main.__qualname__ = "__main__", "main"
    for function, said in [
        (lambda: None, "lambda, a nested function or a method"),
        (nested(), "lambda, a nested function or a method"),
        (Scanner().scan, "not a plain function"),
        (main, "the script run as __main__"),
    ]:
        with pytest.raises(SettingError, match=said) as raised:
            rota.job("odd", isolation="process")(function)
        assert raised.value.field == "isolation"
    rota.job("scan", isolation="process")(isolated_jobs.end)
    rota.job("inline")(nested())
    try:
        info = rota.job_info("scan")
        assert info.settings.isolation is Isolation.PROCESS
        assert info.defaults["isolation"] == "process"
        assert rota.job_info("inline").settings.isolation is Isolation.NONE
        with pytest.raises(SettingError, match="nested function"):
            rota.override("inline", isolation="process")
        with pytest.raises(SettingError, match="nested function"):
            rota.override("rota-prune", isolation="process")
        assert rota.override("scan", isolation="none").settings.isolation is Isolation.NONE
        assert rota.reset("scan", "isolation").settings.isolation is Isolation.PROCESS
    finally:
        rota.close()


def test_what_the_child_reports_becomes_the_outcome() -> None:
    after, backoff = timedelta(minutes=5), timedelta(seconds=10)
    retried = outcome_from(("failed", None, "retry requested", None, (None, after, backoff, after)))
    assert isinstance(retried.retry, Retry)
    assert retried.retry.after == after
    assert outcome_from(("skipped", "no key", None, None, None)) == Outcome(
        RunStatus.SKIPPED, note="no key"
    )
    assert died(3).error == (
        "the job's process ended before the job did: exit code 3 (its standard error may say why)"
    )
    assert died(-signal.SIGSEGV).error == (
        "the job's process ended before the job did: killed by SIGSEGV"
    )
    assert "out-of-memory" in (died(-signal.SIGKILL).error or "")


async def test_progress_log_and_outcomes_come_back(
    rotas: MakeRota, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    rota = rotas()
    rota.job("report", isolation="process", args={"items": 3})(isolated_jobs.report)
    rota.job("end", isolation="process", overlap="allow", max_concurrent=5)(isolated_jobs.end)
    rota.job("async", isolation="process")(isolated_jobs.wait_async)
    await rota.start_async()
    reported = rota.run_now("report")
    ended = {how: rota.run_now("end", how=how) for how in ("skip", "retry", "raise", "done")}
    awaited = rota.run_now("async")

    run = await outcome(rota, reported, SPAWN)  # the result does not pickle: it is not kept
    assert run.status is RunStatus.SUCCEEDED, run.error
    assert (run.progress_done, run.progress_total, run.progress_note) == (3, 3, "item 3")
    assert f"INFO rota.jobs.report: run {reported} in process" in run.log
    assert "WARNING isolated.library: own logging, attempt 1" in run.log
    assert "refused: progress done: True is not a number" in run.log
    assert "own logging, attempt 1" in caplog.text  # on to this process's loggers too

    skipped = await outcome(rota, ended["skip"], SPAWN)
    assert (skipped.status, skipped.note) == (RunStatus.SKIPPED, "nothing to scan")
    retried = await outcome(rota, ended["retry"], SPAWN)
    assert (retried.status, retried.error) == (RunStatus.FAILED, "retry requested after 0:05:00")
    again = [r for r in rota.runs("end") if r.attempt == 2]
    assert len(again) == 1
    assert again[0].not_before == retried.finished_at + timedelta(minutes=5)
    raised = await outcome(rota, ended["raise"], SPAWN)
    assert raised.error == "KeyError: 'library'"
    assert raised.traceback is not None
    assert 'raise KeyError("library")' in raised.traceback
    assert (await outcome(rota, ended["done"], SPAWN)).status is RunStatus.SUCCEEDED
    run = await outcome(rota, awaited, SPAWN)
    assert run.status is RunStatus.SUCCEEDED
    assert "async in process" in run.log


async def test_a_child_that_dies_fails_its_run_naming_how(rotas: MakeRota) -> None:
    rota = rotas()
    rota.job("end", isolation="process", overlap="allow", max_concurrent=2)(isolated_jobs.end)
    await rota.start_async()
    exited, crashed = rota.run_now("end", how="exit"), rota.run_now("end", how="segfault")
    run = await outcome(rota, exited, SPAWN)
    assert run.status is RunStatus.FAILED
    assert run.error == died(3).error
    run = await outcome(rota, crashed, SPAWN)
    assert run.error == "the job's process ended before the job did: killed by SIGSEGV"


async def test_timeout_and_cancel_end_the_process(
    rotas: MakeRota, clock: FakeClock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(child, "KILL_GRACE", 0.5)  # real seconds from SIGTERM to SIGKILL
    rota = rotas()
    rota.job("hang", isolation="process", timeout="1h")(isolated_jobs.hang)
    rota.job("stubborn", isolation="process")(isolated_jobs.hang)
    await rota.start_async()
    slow = rota.run_now("hang", marker=str(tmp_path / "slow"))
    stubborn = rota.run_now("stubborn", marker=str(tmp_path / "stubborn"), ignore_sigterm=True)
    await eventually(lambda: pid_of(rota, slow) and pid_of(rota, stubborn), SPAWN)
    slow_pid, stubborn_pid = pid_of(rota, slow), pid_of(rota, stubborn)
    assert slow_pid
    assert stubborn_pid

    clock.advance(timedelta(hours=1))
    run = await outcome(rota, slow, SPAWN)  # recorded at once, as for a job in a thread
    assert (run.status, run.note) == (RunStatus.TIMED_OUT, "timed out after 1:00:00")
    await eventually(lambda: gone(slow_pid), SPAWN)
    # SIGTERM raised in the job: its `finally` ran, and saw `ctx.cancelled`.
    assert (tmp_path / "slow").read_text() == "cancelled=True"

    rota.cancel(stubborn)  # it ignores SIGTERM: SIGKILL ends it after the grace
    run = await outcome(rota, stubborn, SPAWN)
    assert (run.status, run.note) == (RunStatus.CANCELLED, "cancelled by an admin")
    await eventually(lambda: gone(stubborn_pid), child.KILL_GRACE + SPAWN)
    assert not (tmp_path / "stubborn").exists()


async def test_stop_ends_a_hung_process_run(rotas: MakeRota, tmp_path: Path) -> None:
    rota = rotas()
    rota.job("hang", isolation="process")(isolated_jobs.hang)
    await rota.start_async()
    run_id = rota.run_now("hang", marker=str(tmp_path / "marker"))
    await eventually(lambda: pid_of(rota, run_id), SPAWN)
    pid = pid_of(rota, run_id)
    assert pid is not None
    await rota.stop_async(grace=0)
    assert gone(pid)  # `stop` waits until its job processes are gone
    assert rota.get_run(run_id).status is RunStatus.INTERRUPTED
