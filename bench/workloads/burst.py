"""W2 burst: many one-shot no-op jobs due at one instant; throughput, lateness, exactly once.

    python -m bench.workloads.burst --system rota --jobs 2000

Runs per second count from the due instant to the last completion (rota: the latest
`finished_at` in its store, with every run's history kept; APScheduler: the last
EVENT_JOB_EXECUTED, it keeps no history). Lateness: rota's recorded `started_at - fire_time`,
and for both systems the job's own call time minus the due instant.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from bench.common import Result, parser, spread, workload_main
from bench.oneshot import run_apscheduler, run_rota


def run(args: argparse.Namespace, tmp: Path) -> Result:
    at = time.time() + args.lead
    due = [at] * args.jobs
    runner = run_rota if args.system == "rota" else run_apscheduler
    outcome = runner(tmp, due, [], args.timeout)
    once, problems = outcome.exactly_once()
    result: Result = {
        "jobs": args.jobs,
        "setup_left_s": outcome.setup_left_s,
        "exactly_once": once,
        **spread(outcome.call_late_ms(), "call_late"),
    }
    if outcome.recorded_late_ms:
        result.update(spread(outcome.recorded_late_ms, "recorded_late"))
    if outcome.finished:
        span = max(outcome.finished) - at
        result["span_s"] = span
        result["runs_per_s"] = len(outcome.finished) / span
    if problems:
        result["note"] = problems
    return result


def main() -> int:
    arguments = parser(__doc__.split("\n")[0])
    arguments.add_argument("--jobs", type=int, default=2000)
    arguments.add_argument("--lead", type=float, default=2.0, help="seconds until they are due")
    arguments.add_argument("--timeout", type=float, default=120.0, help="wait after the instant")
    return workload_main(arguments, run)


if __name__ == "__main__":
    sys.exit(main())
