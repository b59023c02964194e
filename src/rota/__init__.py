"""rota: named background jobs for self-hosted apps.

`Rota` registers jobs and runs them; schedules (cron, daily, weekly, intervals, one-shot, manual,
after other jobs) are pure values in `rota.schedules`, spelled with the small factory functions
here; `Retry` and `Skip` are what a job can say about its run.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from rota.admin.limiters import LimiterInfo
from rota.admin.views import JobInfo, RunPage
from rota.app import Rota
from rota.engine.context import RunContext, RunInfo
from rota.engine.limiter import LimiterSpec, LimiterWait
from rota.errors import (
    ConflictError,
    RotaError,
    ScheduleError,
    SettingError,
    StoreError,
    UnknownJobError,
    UnknownRunError,
)
from rota.outcomes import Retry, Skip
from rota.schedules import (
    After,
    Cron,
    Daily,
    Interval,
    Manual,
    Once,
    Preview,
    Schedule,
    Weekly,
    parse,
    preview,
)
from rota.store.records import (
    EventKind,
    EventRecord,
    JobKind,
    Reason,
    Retention,
    RunRecord,
    RunStatus,
)

if TYPE_CHECKING:
    from fastapi import FastAPI

__all__ = [
    "After",
    "ConflictError",
    "Cron",
    "Daily",
    "EventKind",
    "EventRecord",
    "Interval",
    "JobInfo",
    "JobKind",
    "LimiterInfo",
    "LimiterSpec",
    "LimiterWait",
    "Manual",
    "Once",
    "Preview",
    "Reason",
    "Retention",
    "Retry",
    "Rota",
    "RotaError",
    "RunContext",
    "RunInfo",
    "RunPage",
    "RunRecord",
    "RunStatus",
    "Schedule",
    "ScheduleError",
    "SettingError",
    "Skip",
    "StoreError",
    "UnknownJobError",
    "UnknownRunError",
    "Weekly",
    "after",
    "asgi",
    "cron",
    "daily",
    "every",
    "manual",
    "once",
    "parse",
    "preview",
    "weekly",
]

__version__ = "0.1.0"


def asgi(
    rota: Rota,
    *,
    start_engine: bool = False,
    admin_token: str | None = None,
    viewer_token: str | None = None,
    token_file: str | Path | None = None,
    heartbeat: float = 15.0,
) -> FastAPI:
    """The admin service of a Rota as an ASGI app (FastAPI; the ``service`` extra): the REST
    API under ``/api``, server-sent events, ``/healthz``, ``/readyz``, ``/metrics``. Run it
    with uvicorn or mount it: ``app.mount("/jobs-admin", asgi(rota))``.

    It starts the engine in its lifespan only with `start_engine`. Tokens: the arguments,
    else ``ROTA_ADMIN_TOKEN`` / ``ROTA_VIEWER_TOKEN``; with no admin token, one is made,
    logged once, and its hash kept in `token_file` (default: beside a SQLite database).
    `heartbeat` is how often an idle event stream sends a comment, in seconds. See
    docs/service.md."""
    from rota.service import create_app  # FastAPI only for those who ask for it

    return create_app(
        rota,
        start_engine=start_engine,
        admin_token=admin_token,
        viewer_token=viewer_token,
        token_file=token_file,
        heartbeat=heartbeat,
    )


def cron(expression: str, tz: str | None = None) -> Cron:
    """A cron schedule: ``cron("30 2 * * *", tz="Europe/Berlin")``."""
    return Cron(expression, tz)


def daily(at: str, tz: str | None = None) -> Daily:
    """Every day at a wall-clock time: ``daily("02:00")``."""
    return Daily(at, tz)


def weekly(days: str | Iterable[str], at: str, tz: str | None = None) -> Weekly:
    """Days of the week at a time: ``weekly("sun", "04:00")``, ``weekly("mon-fri", "07:30")``."""
    return Weekly(days, at, tz)


def every(
    period: str | float | timedelta | None = None,
    *,
    weeks: float = 0,
    days: float = 0,
    hours: float = 0,
    minutes: float = 0,
    seconds: float = 0,
    anchor: datetime | str | None = None,
) -> Interval:
    """A fixed interval: ``every("2h")``, ``every(hours=6)``, ``every(seconds=0.1)``."""
    parts = timedelta(weeks=weeks, days=days, hours=hours, minutes=minutes, seconds=seconds)
    if period is not None and parts:
        raise ScheduleError(
            "interval", str(period), "give the period as text or as units, not both"
        )
    return Interval(parts if period is None else period, anchor)


def once(at: datetime | str, tz: str | None = None) -> Once:
    """A single fire time: ``once("2026-12-01T10:00+01:00")``."""
    return Once(at, tz)


def manual() -> Manual:
    """Never fires by itself; the job runs when started by hand."""
    return Manual()


def after(*jobs: str) -> After:
    """Fires when the named jobs succeed: ``after("sync-movies", "sync-series")``. Not yet a
    job's schedule: jobs refuse it until job chains are built."""
    return After(*jobs)
