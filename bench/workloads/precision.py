"""W3 precision: one-shot jobs due a few milliseconds apart among idle schedules; lateness.

    python -m bench.workloads.precision --system rota --jobs 300 --idle 5000

Lateness is start minus fire time per job: for both systems the job's own call time, and for
rota also its recorded `started_at - fire_time`.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from bench.common import Result, make_specs, parser, spread, workload_main
from bench.oneshot import run_apscheduler, run_rota


def run(args: argparse.Namespace, tmp: Path) -> Result:
    now = time.time()
    first = now + args.lead
    due = [first + i * args.spacing / 1000 for i in range(args.jobs)]
    idle = make_specs(args.idle, now)
    runner = run_rota if args.system == "rota" else run_apscheduler
    outcome = runner(tmp, due, idle, args.timeout)
    once, problems = outcome.exactly_once()
    result: Result = {
        "jobs": args.jobs,
        "idle": args.idle,
        "setup_left_s": outcome.setup_left_s,
        "exactly_once": once,
        **spread(outcome.call_late_ms(), "call_late"),
    }
    if outcome.recorded_late_ms:
        result.update(spread(outcome.recorded_late_ms, "recorded_late"))
    if problems:
        result["note"] = problems
    return result


def main() -> int:
    arguments = parser(__doc__.split("\n")[0])
    arguments.add_argument("--jobs", type=int, default=300)
    arguments.add_argument("--idle", type=int, default=5000, help="idle schedules in the store")
    arguments.add_argument("--spacing", type=float, default=20.0, help="milliseconds apart")
    arguments.add_argument("--lead", type=float, default=5.0, help="seconds until the first")
    arguments.add_argument("--timeout", type=float, default=60.0, help="wait after the last")
    return workload_main(arguments, run)


if __name__ == "__main__":
    sys.exit(main())
