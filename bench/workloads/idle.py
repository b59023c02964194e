"""W4 idle: N schedules, none due for minutes; CPU seconds the process spends doing nothing.

    python -m bench.workloads.idle --system rota --n 10000 --seconds 10

rota registers the N jobs and starts; APScheduler's store is seeded in one transaction (adding
is W1's business) and the scheduler started. After `--settle` seconds, user + system CPU time of
the whole process (every thread) is read before and after `--seconds` of sleep.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

from bench.common import Result, cpu_seconds, make_specs, parser, peak_rss_mb, workload_main


def idle_rota(args: argparse.Namespace, tmp: Path) -> tuple[float, float]:
    from bench.use_rota import make_rota, register_idle

    async def main() -> tuple[float, float]:
        rota = make_rota(tmp)
        register_idle(rota, make_specs(args.n, time.time()))
        await rota.start_async()
        await asyncio.sleep(args.settle)
        before, began = cpu_seconds(), time.monotonic()
        await asyncio.sleep(args.seconds)
        used, took = cpu_seconds() - before, time.monotonic() - began
        await rota.stop_async()
        return used, took

    return asyncio.run(main())


def idle_apscheduler(args: argparse.Namespace, tmp: Path) -> tuple[float, float]:
    from bench.use_aps import add_idle, make_scheduler

    scheduler, store = make_scheduler(tmp)
    scheduler.start(paused=True)
    store.batch()
    add_idle(scheduler, make_specs(args.n, time.time()))
    store.flush()
    scheduler.resume()
    time.sleep(args.settle)
    before, began = cpu_seconds(), time.monotonic()
    time.sleep(args.seconds)
    used, took = cpu_seconds() - before, time.monotonic() - began
    scheduler.shutdown()
    return used, took


def run(args: argparse.Namespace, tmp: Path) -> Result:
    idle = idle_rota if args.system == "rota" else idle_apscheduler
    used, took = idle(args, tmp)
    return {
        "n": args.n,
        "cpu_s": used,
        "cpu_s_per_10s": used * 10 / took,
        "window_s": took,
        "rss_mb": peak_rss_mb(),
    }


def main() -> int:
    arguments = parser(__doc__.split("\n")[0])
    arguments.add_argument("--n", type=int, required=True, help="idle schedules")
    arguments.add_argument("--seconds", type=float, default=10.0, help="measured window")
    arguments.add_argument("--settle", type=float, default=1.0, help="wait before measuring")
    return workload_main(arguments, run)


if __name__ == "__main__":
    sys.exit(main())
