"""When each demo job runs and with which policies: the default schedules of media-server apps,
and the compressed day of ``--fast``: plain ``every Ns`` schedules, a different period for each
job (10-60 s), and a start delay of 1-29 s each, so that the jobs start one after another and
each within a minute. The chain (embeddings → recommendations → library-build), the pollers
and the spawned fetch-artwork are the same in both modes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from rota import Retention, Retry
from rota.demo import media, metadata, taste, upkeep

__all__ = ["ARTWORK_RETENTION", "PLAN", "POLLER_RETENTION", "JobPlan", "settings_for"]

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
# A scan can spawn a few hundred artwork fetches: their successes are kept an hour.
ARTWORK_RETENTION = Retention(
    keep_last=200, succeeded_for=timedelta(hours=1), failed_for=timedelta(days=1)
)


@dataclass(frozen=True)
class JobPlan:
    """One demo job: its work, its real schedule (None: it runs when asked or spawned), and
    in --fast its period and its start delay (seconds after the start before its first run may
    start)."""

    name: str
    work: Work
    schedule: str | None
    fast_every: int = 0
    fast_delay: int = 0
    settings: dict[str, Any] = field(default_factory=dict)
    fast_settings: dict[str, Any] = field(default_factory=dict)
    poller: bool = False  # a sub-second or seconds poller: the same schedule in both modes
    needs_tmdb_key: bool = False  # requires the demo's TMDb API key (a prerequisite)

    @property
    def chained(self) -> bool:
        """Whether it runs after other jobs (``after ...``) rather than at times of its own."""
        return self.schedule is not None and self.schedule.startswith("after ")

    @property
    def timed(self) -> bool:
        """Whether it runs at times of its own that --fast compresses (not a poller, not after
        other jobs, not only when asked)."""
        return self.schedule is not None and not self.poller and not self.chained


PLAN = (
    JobPlan("source-search", media.source_search, "every 0.1s", 0, 0,
            {"catch_up": "none", "retention": POLLER_RETENTION}, poller=True),
    JobPlan("stats-update", media.stats_update, "every 2s", 0, 0,
            {"catch_up": "none", "retention": POLLER_RETENTION}, poller=True),
    JobPlan("sync-users", media.sync_users, "every 30m", 10, 1),
    JobPlan("watch-history", media.watch_history, "every 2h", 15, 3),
    JobPlan("library-scan", media.library_scan, "daily 02:00", 30, 5,
            {"timeout": "2h"}, {"timeout": "25s"}),
    JobPlan("enrich-metadata", metadata.enrich_metadata, "every 6h", 20, 8,
            {"retry": Retry(3, backoff="1m")}, {"retry": Retry(3, backoff="2s")},
            needs_tmdb_key=True),
    JobPlan("embeddings", taste.embeddings, "daily 03:00", 25, 11),
    JobPlan("database-backup", upkeep.database_backup, "daily 01:00", 35, 14,
            {"timeout": "30m"}, {"timeout": "20s"}),
    JobPlan("recommendations", taste.recommendations, "after embeddings"),
    JobPlan("top-picks", taste.top_picks, "daily 05:00", 45, 20),
    JobPlan("library-build", taste.library_build, "after recommendations"),
    JobPlan("discovery", taste.discovery, "daily 06:00", 55, 26),
    JobPlan("history-cleanup", upkeep.history_cleanup, "weekly sun 06:30", 60, 29),
    # Spawned by library-scan, one run per title; two at a time, so that a backlog of them
    # (all waiting for the tmdb limiter) never holds more than two of the six workers.
    JobPlan("fetch-artwork", metadata.fetch_artwork, None,
            settings={"overlap": "allow", "max_concurrent": 2, "retention": ARTWORK_RETENTION,
                      "retry": Retry(3, backoff="10s")}, needs_tmdb_key=True),
)  # fmt: skip


def settings_for(plan: JobPlan, *, fast: bool) -> dict[str, Any]:
    """The job's settings for `rota.job`: in --fast, ``every <period>s`` (short to read, the
    same at every start) and a start delay, so that the jobs start one after another rather
    than all at once."""
    settings: dict[str, Any] = {"retention": JOB_RETENTION, **plan.settings}
    if not fast or not plan.timed:
        return {**settings, "schedule": plan.schedule}
    fast_settings = {"schedule": f"every {plan.fast_every}s", "start_delay": plan.fast_delay}
    return {**settings, **plan.fast_settings, **fast_settings}
