"""APScheduler 3 as the benchmarks use it: SQLAlchemyJobStore on a SQLite file in the temp dir,
ThreadPoolExecutor(10), misfire_grace_time=None, coalesce=True, jobs as text references.

`BatchingJobStore` lets a workload seed many jobs in one transaction when adding them is not
what it measures: each job still goes through `add_job` (defaults, first fire time, pickling);
only the INSERTs are collected and written together. W1 times the ordinary one-by-one add.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from apscheduler.util import datetime_to_utc_timestamp

from bench.common import Spec

NOOP = "bench.targets:noop"
RECORD = "bench.targets:record"
PROBE = "bench.targets:probe"


class BatchingJobStore(SQLAlchemyJobStore):  # type: ignore[misc]
    """A SQLAlchemyJobStore whose adds, between `batch()` and `flush()`, are one transaction."""

    def __init__(self, url: str) -> None:
        super().__init__(url=url)
        self._rows: list[dict[str, Any]] | None = None

    def batch(self) -> None:
        """Collect the rows of the following adds."""
        self._rows = []

    def add_job(self, job: Any) -> None:
        if self._rows is None:
            super().add_job(job)
            return
        self._rows.append(
            {
                "id": job.id,
                "next_run_time": datetime_to_utc_timestamp(job.next_run_time),
                "job_state": pickle.dumps(job.__getstate__(), self.pickle_protocol),
            }
        )

    def flush(self) -> int:
        """Insert the collected rows in one transaction; back to one add per transaction."""
        rows, self._rows = self._rows or [], None
        if rows:
            with self.engine.begin() as connection:
                connection.execute(self.jobs_t.insert(), rows)
        return len(rows)


def make_scheduler(tmp: Path) -> tuple[BackgroundScheduler, BatchingJobStore]:
    """The settings every workload uses (not started)."""
    store = BatchingJobStore(f"sqlite:///{tmp}/apscheduler.db")
    scheduler = BackgroundScheduler(
        jobstores={"default": store},
        executors={"default": ThreadPoolExecutor(10)},
        job_defaults={"misfire_grace_time": None, "coalesce": True},
        timezone="UTC",
    )
    return scheduler, store


def trigger_of(spec: Spec) -> CronTrigger | IntervalTrigger:
    """The APScheduler spelling of an idle schedule."""
    if spec.kind == "cron":
        return CronTrigger(minute=spec.minute, hour=spec.hour, timezone="UTC")
    return IntervalTrigger(seconds=spec.seconds, start_date=spec.anchor, timezone="UTC")


def add_idle(scheduler: BackgroundScheduler, specs: list[Spec], prefix: str = "idle") -> None:
    """One no-op job per spec."""
    for i, spec in enumerate(specs):
        scheduler.add_job(NOOP, trigger_of(spec), id=f"{prefix}-{i}", name=f"{prefix}-{i}")
