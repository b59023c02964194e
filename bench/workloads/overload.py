"""W6 overload: many jobs every second on SQLite, more than the machine can run; what degrades.

    python -m bench.workloads.overload --system rota --jobs 10000 --seconds 60

Every job is ``every 1s`` (a no-op, rota's defaults: overlap skip). From the moment the engine
has started, the workload lets it run `--seconds` and reads the store afterwards: how many of
the fire times due meanwhile became runs that ran, how late they started (p50/p99 of the runs
that started in the first and in the last third of the window), how the fire times not run are
recorded (rows per job, the database's growth), how evenly the jobs got runs, the longest store
transaction (what a claim or a finish may wait behind) and whether the engine said it was
behind. Half way through, the prune job is started by hand; its time to finish says whether
retention keeps up. rota only: APScheduler keeps no run history, so growth and fairness have
nothing to compare with.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import sys
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.common import Result, parser, percentile, workload_main
from bench.targets import noop
from rota import Rota
from rota.store.records import RunStatus


def db_bytes(tmp: Path) -> int:
    return sum(p.stat().st_size for p in tmp.glob("rota.db*"))


def run(args: argparse.Namespace, tmp: Path) -> Result:
    return asyncio.run(_run(args, tmp))


async def _run(args: argparse.Namespace, tmp: Path) -> Result:
    rota = Rota(f"sqlite:///{tmp}/rota.db", timezone="UTC", workers=10)
    for index in range(args.jobs):
        rota.job(f"load-{index}", schedule="every 1s")(noop)
    await rota.start_async()
    store = rota.store
    apply = store.apply
    longest = [0.0]

    def timed(operations: Any) -> Any:
        began = time.perf_counter()
        try:
            return apply(operations)
        finally:
            longest[0] = max(longest[0], time.perf_counter() - began)

    store.apply = timed  # type: ignore[method-assign]
    size0 = db_bytes(tmp)
    t0 = datetime.now(UTC)
    await asyncio.sleep(args.seconds / 2)
    prune_started = time.perf_counter()
    prune_id = await asyncio.to_thread(rota.run_now, "rota-prune")
    prune_s: float | None = None
    deadline = time.monotonic() + args.seconds / 2
    while time.monotonic() < deadline:
        run = await asyncio.to_thread(rota.get_run, prune_id)
        if prune_s is None and run.status not in (RunStatus.QUEUED, RunStatus.RUNNING):
            prune_s = time.perf_counter() - prune_started
        await asyncio.sleep(0.2)
    t1 = datetime.now(UTC)
    engine = rota.engine
    lag = getattr(engine, "lag", None)
    await rota.stop_async(grace=1)
    size1 = db_bytes(tmp)
    result = await asyncio.to_thread(measure, rota, args, t0, t1)
    rota.close()
    result.update(
        {
            "db_growth_mb": (size1 - size0) / 1e6,
            "longest_tx_ms": longest[0] * 1000,
            # NaN: the prune job had not finished when the window ended.
            "prune_s": math.nan if prune_s is None else prune_s,
            "behind_episodes": math.nan if lag is None else lag.episodes,
            "worst_lag_s": math.nan if lag is None else lag.worst.total_seconds(),
            # Fire times decided in one step with an earlier one of their job, and the times a
            # busy skip job was set aside until its run ended (decision 0009, 6 and 7).
            "fire_times_coalesced": getattr(lag, "coalesced", math.nan),
            "jobs_set_aside": getattr(lag, "parked", math.nan),
        }
    )
    return result


def measure(rota: Rota, args: argparse.Namespace, t0: datetime, t1: datetime) -> Result:
    runs = []
    before: int | None = None
    while True:
        page = rota.runs(None, None, 10_000, before)
        if not page:
            break
        runs.extend(r for r in page if r.job.startswith("load-"))
        before = page[-1].id
    window = [r for r in runs if r.fire_time is not None and t0 <= r.fire_time < t1]
    due = args.jobs * int((t1 - t0).total_seconds())
    ran = [r for r in window if r.started_at is not None]
    span = (t1 - t0) / 3
    late = {"first": [], "last": []}  # type: dict[str, list[float]]
    for r in ran:
        assert r.fire_time is not None
        assert r.started_at is not None
        ms = (r.started_at - r.fire_time).total_seconds() * 1000
        if r.started_at < t0 + span:
            late["first"].append(ms)
        elif r.started_at >= t1 - span:
            late["last"].append(ms)
    per_job = Counter(r.job for r in ran)
    counts = [per_job.get(f"load-{i}", 0) for i in range(args.jobs)]
    accounted = sum(getattr(r, "fire_count", 1) for r in window)
    return {
        "jobs": args.jobs,
        "seconds": round((t1 - t0).total_seconds(), 1),
        "fire_times_due": due,
        "fire_times_run": len(ran),
        "fire_times_recorded": accounted,
        "late_first_p50_ms": percentile(late["first"], 50),
        "late_first_p99_ms": percentile(late["first"], 99),
        "late_last_p50_ms": percentile(late["last"], 50),
        "late_last_p99_ms": percentile(late["last"], 99),
        "rows_per_job": len(runs) / args.jobs,
        "runs_per_job_min": min(counts),
        "runs_per_job_max": max(counts),
        "jobs_without_run": sum(c == 0 for c in counts),
    }


def main() -> int:
    arguments = parser(__doc__.split("\n")[0])
    arguments.add_argument("--jobs", type=int, default=10_000)
    arguments.add_argument("--seconds", type=float, default=60.0)
    return workload_main(arguments, run)


if __name__ == "__main__":
    sys.exit(main())
