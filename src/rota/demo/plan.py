"""When each demo job runs and with which policies: the default schedules of media-server apps,
and the compressed day of ``--fast``: plain ``every Ns`` schedules, a different period for each
job (10-60 s), and a start delay of 1-29 s each, so that the jobs start one after another and
each within a minute."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from rota import Retention, Retry
from rota.demo import media, taste, upkeep

__all__ = ["PLAN", "POLLER_RETENTION", "JobPlan", "settings_for"]

# The work of a job: ctx, the media server, and the job's own keyword parameters.
Work = Callable[..., None]

# The pollers fire 10 times a second: their history keeps the newest 200 runs (and failures a
# day), so that rota-prune holds it at a few thousand rows between its passes.
POLLER_RETENTION = Retention(
    keep_last=200,
    succeeded_for=timedelta(hours=1),
    failed_for=timedelta(days=1),
    fast_failures=200,
)
JOB_RETENTION = Retention(keep_last=100, succeeded_for=timedelta(days=14))


@dataclass(frozen=True)
class JobPlan:
    """One demo job: its work, its real schedule, and in --fast its period and its start delay
    (seconds after the start before its first run may start)."""

    name: str
    work: Work
    schedule: str
    fast_every: int
    fast_delay: int
    settings: dict[str, Any] = field(default_factory=dict)
    fast_settings: dict[str, Any] = field(default_factory=dict)
    poller: bool = False  # a sub-second or seconds poller: the same schedule in both modes


PLAN = (
    JobPlan("source-search", media.source_search, "every 0.1s", 0, 0,
            {"catch_up": "none", "retention": POLLER_RETENTION}, poller=True),
    JobPlan("stats-update", media.stats_update, "every 2s", 0, 0,
            {"catch_up": "none", "retention": POLLER_RETENTION}, poller=True),
    JobPlan("sync-users", media.sync_users, "every 30m", 10, 1),
    JobPlan("watch-history", media.watch_history, "every 2h", 15, 3),
    JobPlan("library-scan", media.library_scan, "daily 02:00", 30, 5,
            {"timeout": "2h"}, {"timeout": "25s"}),
    JobPlan("enrich-metadata", media.enrich_metadata, "every 6h", 20, 8,
            {"retry": Retry(3, backoff="1m")}, {"retry": Retry(3, backoff="2s")}),
    JobPlan("embeddings", taste.embeddings, "daily 03:00", 25, 11),
    JobPlan("database-backup", upkeep.database_backup, "daily 01:00", 35, 14,
            {"timeout": "30m"}, {"timeout": "20s"}),
    JobPlan("recommendations", taste.recommendations, "weekly sun 04:00", 40, 17),
    JobPlan("top-picks", taste.top_picks, "daily 05:00", 45, 20),
    JobPlan("library-build", taste.library_build, "weekly sun 05:00", 50, 23),
    JobPlan("discovery", taste.discovery, "daily 06:00", 55, 26),
    JobPlan("history-cleanup", upkeep.history_cleanup, "weekly sun 06:30", 60, 29),
)  # fmt: skip


def settings_for(plan: JobPlan, *, fast: bool) -> dict[str, Any]:
    """The job's settings for `rota.job`: in --fast, ``every <period>s`` (short to read, the
    same at every start) and a start delay, so that the jobs start one after another rather
    than all at once."""
    settings: dict[str, Any] = {"retention": JOB_RETENTION, **plan.settings}
    if not fast or plan.poller:
        return {**settings, "schedule": plan.schedule}
    fast_settings = {"schedule": f"every {plan.fast_every}s", "start_delay": plan.fast_delay}
    return {**settings, **plan.fast_settings, **fast_settings}
