"""W1 register: add N idle schedules durably, then restart on that store and time a first run.

    python -m bench.workloads.register --system rota --n 10000

Phase "add" (this process): rota registers N jobs and starts (the engine syncs them to the
store: that is when they become durable); APScheduler, started, adds them one `add_job` at a
time, each its own transaction, and gives up after `--deadline` seconds. Peak RSS is this
process's. Then phase "restart" runs in a second process on the same store: it registers the same
schedules (rota keeps them in code) plus a probe, starts, and times the probe's first call from
the moment the process was spawned.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from bench.common import Result, make_specs, parser, peak_rss_mb, workload_main
from bench.targets import PROBE_AT, PROBE_CALLED, probe


def add_rota(n: int, base: float, tmp: Path) -> Result:
    from bench.use_rota import make_rota, register_idle

    async def main() -> Result:
        began = time.perf_counter()
        rota = make_rota(tmp)
        register_idle(rota, make_specs(n, base))
        registered = time.perf_counter()
        await rota.start_async()
        durable = time.perf_counter()
        rss = peak_rss_mb()
        await rota.stop_async()
        return {
            "complete": True,
            "per_add_ms": (durable - began) / n * 1000,
            "register_only_ms": (registered - began) / n * 1000,
            "rss_add_mb": rss,
        }

    return asyncio.run(main())


def add_apscheduler(n: int, base: float, tmp: Path, deadline: float) -> Result:
    from bench.use_aps import make_scheduler, trigger_of

    scheduler, _ = make_scheduler(tmp)
    scheduler.start()
    specs = make_specs(n, base)
    began = time.perf_counter()
    added = 0
    for i, spec in enumerate(specs):
        scheduler.add_job("bench.targets:noop", trigger_of(spec), id=f"idle-{i}", name=f"idle-{i}")
        added += 1
        if added % 100 == 0 and time.perf_counter() - began > deadline:
            break
    elapsed = time.perf_counter() - began
    rss = peak_rss_mb()
    scheduler.shutdown()
    result: Result = {
        "complete": added == n,
        "per_add_ms": elapsed / added * 1000,
        "rss_add_mb": rss,
    }
    if added < n:
        result["note"] = f"stopped after {deadline:.0f} s: {added:,} of {n:,} added"
    return result


def restart_rota(n: int, base: float, tmp: Path) -> Result:
    from bench.use_rota import make_rota, register_idle

    async def main() -> Result:
        rota = make_rota(tmp)
        register_idle(rota, make_specs(n, base))
        rota.job("probe")(probe)  # manual: see the note in docs/benchmarks.md on once(now)
        starting = time.monotonic()
        await rota.start_async()
        rota.run_now("probe")
        called = await asyncio.to_thread(PROBE_CALLED.wait, 120)
        rss = peak_rss_mb()
        await rota.stop_async()
        return {"called": called, "starting": starting, "rss_restart_mb": rss}

    return asyncio.run(main())


def restart_apscheduler(tmp: Path) -> Result:
    from bench.use_aps import PROBE, make_scheduler

    scheduler, _ = make_scheduler(tmp)
    scheduler.add_job(PROBE, "date", run_date=datetime.now(UTC), id="probe", name="probe")
    starting = time.monotonic()
    scheduler.start()
    called = PROBE_CALLED.wait(120)
    rss = peak_rss_mb()
    scheduler.shutdown()
    return {"called": called, "starting": starting, "rss_restart_mb": rss}


def restart(args: argparse.Namespace) -> Result:
    importlib.import_module("bench.use_rota" if args.system == "rota" else "bench.use_aps")
    imported = time.monotonic()
    if args.system == "rota":
        result = restart_rota(args.n, args.base, args.dir)
    else:
        result = restart_apscheduler(args.dir)
    if not result.pop("called"):
        return {"error": "the probe did not run within 120 s"}
    starting = result.pop("starting")
    return {
        **result,
        "first_run_s": PROBE_AT[0] - args.spawned,
        "first_run_after_start_s": PROBE_AT[0] - starting,
        "imports_s": imported - args.spawned,  # interpreter start and imports
    }


def spawn_restart(args: argparse.Namespace, base: float, tmp: Path) -> Result:
    command = [
        *(sys.executable, "-m", "bench.workloads.register", "--system", args.system),
        *("--n", str(args.n), "--phase", "restart", "--base", repr(base), "--dir", str(tmp)),
        *("--spawned", repr(time.monotonic())),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=args.timeout)
    lines = done.stdout.strip().splitlines()
    if not lines:
        return {"error": f"restart phase printed nothing: {done.stderr.strip()[-200:]}"}
    result: Result = json.loads(lines[-1])
    return result


def run(args: argparse.Namespace, tmp: Path) -> Result:
    if args.phase == "restart":
        return restart(args)
    base = time.time()
    if args.system == "rota":
        result = add_rota(args.n, base, tmp)
    else:
        result = add_apscheduler(args.n, base, tmp, args.deadline)
    if not result["complete"]:
        return {**result, "skipped": "the restart phase (adding did not finish)"}
    return {**result, **spawn_restart(args, base, tmp)}


def main() -> int:
    arguments = parser(__doc__.split("\n")[0])
    arguments.add_argument("--n", type=int, required=True, help="schedules")
    arguments.add_argument("--phase", choices=["add", "restart"], default="add")
    arguments.add_argument("--deadline", type=float, default=120.0, help="APScheduler add limit")
    arguments.add_argument("--timeout", type=float, default=240.0, help="restart phase limit")
    arguments.add_argument("--base", type=float, help=argparse.SUPPRESS)
    arguments.add_argument("--dir", type=Path, help=argparse.SUPPRESS)
    arguments.add_argument("--spawned", type=float, help=argparse.SUPPRESS)
    return workload_main(arguments, run)


if __name__ == "__main__":
    sys.exit(main())
