"""One-shot jobs at given instants, in either system, with what each run left behind: W2 (all at
one instant) and W3 (a row of instants among idle schedules) are both this.

Times are wall-clock epoch seconds (``time.time()``), the clock both schedulers fire by. Each job
records its own call time (`bench.targets.record`), so the call lateness is measured the same
way in both systems; rota also records `started_at` per run, read back from its store.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from bench import targets
from bench.common import Spec

PREFIX = "shot-"


@dataclass
class Outcome:
    """What happened to the one-shot jobs (indexes into the list of due times)."""

    due: list[float]
    setup_left_s: float  # due[0] minus the time the scheduler was ready (negative: overran)
    calls: list[tuple[int, float]]
    finished: list[float]  # completion instants
    runs_per_job: Counter[int] = field(default_factory=Counter)  # store (rota) or calls (APS)
    recorded_late_ms: list[float] = field(default_factory=list)  # rota: started_at - fire_time
    failed: int = 0

    def call_late_ms(self) -> list[float]:
        """Call time minus due time, per call."""
        return [(at - self.due[i]) * 1000 for i, at in self.calls]

    def exactly_once(self) -> tuple[bool, str]:
        """Whether every job ran once (by the store and by its calls), and what went wrong."""
        calls = Counter(i for i, _ in self.calls)
        n = len(self.due)
        problems = []
        for label, counts in (("runs", self.runs_per_job), ("calls", calls)):
            missing = sum(1 for i in range(n) if counts[i] == 0)
            extra = sum(1 for i in range(n) if counts[i] > 1)
            if missing or extra:
                problems.append(f"{label}: {missing} missing, {extra} more than once")
        if self.failed:
            problems.append(f"{self.failed} failed")
        return not problems, "; ".join(problems)


def run_rota(tmp: Path, due: list[float], idle: list[Spec], timeout: float) -> Outcome:
    """Register idle jobs and one `once` job per due instant, start, wait for the runs."""
    from bench.use_rota import all_runs, make_rota, register_idle, wait_finished
    from rota import RunStatus, once

    async def main() -> Outcome:
        rota = make_rota(tmp)
        register_idle(rota, idle)
        for i, at in enumerate(due):
            rota.job(f"{PREFIX}{i}", schedule=once(datetime.fromtimestamp(at, UTC)))(
                targets.recorder(i)
            )
        await rota.start_async()
        ready = time.time()
        await wait_finished(rota, PREFIX, len(due), due[-1] - ready + timeout)
        runs = await all_runs(rota, PREFIX)
        await rota.stop_async()
        outcome = Outcome(due, due[0] - ready, list(targets.CALLS), [])
        for run in runs:
            outcome.runs_per_job[int(run.job.removeprefix(PREFIX))] += 1
            if run.status is not RunStatus.SUCCEEDED:
                outcome.failed += 1
            if run.finished_at is not None:
                outcome.finished.append(run.finished_at.timestamp())
            if run.started_at is not None and run.fire_time is not None:
                late = (run.started_at - run.fire_time).total_seconds() * 1000
                outcome.recorded_late_ms.append(late)
        return outcome

    return asyncio.run(main())


def run_apscheduler(tmp: Path, due: list[float], idle: list[Spec], timeout: float) -> Outcome:
    """Seed idle jobs and one date job per due instant (one transaction), start, wait."""
    from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED, JobExecutionEvent

    from bench.use_aps import RECORD, add_idle, make_scheduler

    scheduler, store = make_scheduler(tmp)
    finished: list[float] = []
    failed: list[str] = []
    everything = threading.Event()

    def listener(event: JobExecutionEvent) -> None:
        if event.job_id.startswith(PREFIX):
            finished.append(time.time())
            if event.exception is not None:
                failed.append(event.job_id)
            if len(finished) >= len(due):
                everything.set()

    scheduler.add_listener(listener, EVENT_JOB_EXECUTED | EVENT_JOB_ERROR)
    scheduler.start(paused=True)
    store.batch()
    add_idle(scheduler, idle)
    for i, at in enumerate(due):
        run_date = datetime.fromtimestamp(at, UTC)
        scheduler.add_job(RECORD, "date", run_date=run_date, args=[i], id=f"{PREFIX}{i}")
    store.flush()
    scheduler.resume()
    ready = time.time()
    everything.wait(due[-1] - ready + timeout)
    scheduler.shutdown()
    calls = list(targets.CALLS)
    outcome = Outcome(due, due[0] - ready, calls, finished, failed=len(failed))
    outcome.runs_per_job.update(i for i, _ in calls)
    return outcome
