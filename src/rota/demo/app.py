"""The demo app: a `Rota` on SQLite with the media server's jobs, on the sample library, and the
local TMDb its metadata jobs call (under the shared `tmdb` limiter)."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rota import Rota
from rota.clock import Clock, SystemClock
from rota.demo.keys import kept_secret
from rota.demo.library import Sizes, open_library
from rota.demo.plan import PLAN, JobPlan, settings_for
from rota.demo.server import MediaServer
from rota.demo.tmdb import FakeTmdb
from rota.demo.tmdb_client import KEY_FILE, LIMITER, Tmdb
from rota.engine.context import RunContext
from rota.engine.retention import PRUNE_JOB

__all__ = ["ASYNC_JOBS", "DEFAULT_PACE", "FAST_PRUNE", "LIMITER_MAX_WAIT", "Demo", "build_demo"]

# Seconds per unit of work: a library scan takes ~5 s, a backup ~1 s, so progress shows.
DEFAULT_PACE = 0.4
# In --fast, rota's own pruning comes every minute too (the day is compressed for it as well).
FAST_PRUNE = "every 1m"
# Jobs written as async functions, as an app's HTTP-calling jobs often are.
ASYNC_JOBS = frozenset({"sync-users"})
# A wait for the tmdb limiter is at most its period (10 s) plus a grant's second; one longer
# (another node spending the same limit) gives the worker back and retries later.
LIMITER_MAX_WAIT = "20s"


@dataclass(frozen=True)
class Demo:
    """A built demo: its Rota (not started), the media server its jobs work on, whether the
    library was generated just now (a first start), and the local TMDb (serving already).
    `close` stops both."""

    rota: Rota
    server: MediaServer
    first_start: bool
    tmdb: FakeTmdb

    def close(self) -> None:
        """Close the Rota (stopping its engine) and stop the local TMDb."""
        try:
            self.rota.close()
        finally:
            self.tmdb.close()


def build_demo(
    data_dir: Path,
    *,
    fast: bool = False,
    clock: Clock | None = None,
    pace: float = DEFAULT_PACE,
    sizes: Sizes | None = None,
) -> Demo:
    """The demo in `data_dir` (made if needed): ``rota.db`` for rota, ``library.db`` for the
    sample library (generated on first start), ``backups/``, and ``tmdb-key``, the API key of
    the local TMDb (made when missing), which starts serving on a free port of 127.0.0.1."""
    data_dir.mkdir(parents=True, exist_ok=True)
    clock = clock or SystemClock()
    library, created = open_library(data_dir / "library.db", sizes=sizes, now=clock.now())
    api = FakeTmdb(library, kept_secret(data_dir / KEY_FILE), clock)
    try:
        tmdb = Tmdb(api.url, data_dir / KEY_FILE)
        server = MediaServer(library, data_dir / "backups", clock, pace, tmdb)
        demo = Rota(f"sqlite:///{data_dir / 'rota.db'}", clock=clock, workers=6, shutdown_grace=5)
        # TMDb's published limit, shared by every job that calls it (a request each).
        demo.limiter(LIMITER, 40, per="10s", max_wait=LIMITER_MAX_WAIT)
        for plan in PLAN:
            settings = settings_for(plan, fast=fast)
            if plan.needs_tmdb_key:
                settings["requires"] = [tmdb.key_is_set]
            demo.job(plan.name, **settings)(_job(plan, server))
        # rota-prune is rota's own job: the compressed day is an override of it, undone without.
        if fast:
            demo.override(PRUNE_JOB, schedule=FAST_PRUNE)
        elif "schedule" in demo.job_info(PRUNE_JOB).overrides:
            demo.reset(PRUNE_JOB, "schedule")
    except BaseException:
        api.close()
        raise
    return Demo(demo, server, created, api)


def _job(plan: JobPlan, server: MediaServer) -> Callable[..., object]:
    """The job function: the plan's work on this media server. It takes the work's own
    keyword parameters (library-scan's `full`), and its signature says so, so that rota
    checks a run's arguments against them."""
    work = plan.work

    async def asynchronous(ctx: RunContext, **args: Any) -> None:
        await asyncio.sleep(server.pace)  # waiting for the media server's answer
        await asyncio.to_thread(work, ctx, server, **args)

    def synchronous(ctx: RunContext, **args: Any) -> None:
        work(ctx, server, **args)

    function: Callable[..., object] = asynchronous if plan.name in ASYNC_JOBS else synchronous
    function.__doc__ = work.__doc__
    ctx, _server, *rest = inspect.signature(work).parameters.values()
    setattr(function, "__signature__", inspect.Signature([ctx, *rest]))  # noqa: B010
    return function
