"""W5 cluster: W2's burst on PostgreSQL, run by one node or by several sharing the database.

    python -m bench.workloads.cluster --system rota --jobs 2000 --nodes 3

rota only. A fresh schema on the server of ``ROTA_BENCH_DATABASE_URL``, else of
``ROTA_TEST_DATABASE_URL``, else the local one the tests use; dropped afterwards. This process
is one node and measures; ``--nodes N`` starts N-1 more node processes with the same jobs. Runs
per second count from the due instant to the latest `finished_at` in the store; every job must
have exactly one run, succeeded.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from bench import targets
from bench.common import Result, parser, percentile, workload_main

PREFIX = "shot-"
DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def server_url() -> str:
    """The PostgreSQL server the benchmark uses."""
    for name in ("ROTA_BENCH_DATABASE_URL", "ROTA_TEST_DATABASE_URL"):
        if os.environ.get(name):
            return os.environ[name]
    return DEFAULT_URL


def schema_url(url: str, schema: str) -> str:
    """`url` working in `schema` (libpq's options, as the tests do)."""
    from sqlalchemy.engine import make_url

    return (
        make_url(url)
        .update_query_dict({"options": f"-csearch_path={schema}"})
        .render_as_string(hide_password=False)
    )


def ddl(url: str, statement: str) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            connection.execute(text(statement))
    finally:
        engine.dispose()


def make_rota(url: str, at: float, jobs: int):  # type: ignore[no-untyped-def]
    """A node: the burst's one-shot jobs, all due at `at` (epoch seconds)."""
    from rota import Rota, once

    rota = Rota(url, timezone="UTC", workers=10)
    for i in range(jobs):
        rota.job(f"{PREFIX}{i}", schedule=once(datetime.fromtimestamp(at, UTC)))(
            targets.recorder(i)
        )
    return rota


def node(args: argparse.Namespace) -> Result:
    """A helper node: run until told to stop (SIGTERM)."""
    rota = make_rota(args.url, args.at, args.jobs)
    stop = asyncio.Event()

    async def main() -> None:
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        await rota.start_async()
        print("started", flush=True)
        await stop.wait()
        await rota.stop_async()

    asyncio.run(main())
    return {"calls": len(targets.CALLS)}


def measure(args: argparse.Namespace, url: str) -> Result:
    at = time.time() + args.lead
    helpers = [
        subprocess.Popen(
            [
                *(sys.executable, "-m", "bench.workloads.cluster", "--system", "rota"),
                *("--phase", "node", "--url", url, "--at", repr(at), "--jobs", str(args.jobs)),
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(args.nodes - 1)
    ]
    rota = make_rota(url, at, args.jobs)
    try:

        async def main() -> Result:
            await rota.start_async()
            ready = time.time()
            for helper in helpers:  # every node is up before the instant
                assert helper.stdout is not None
                await asyncio.to_thread(helper.stdout.readline)
            deadline = at + args.timeout
            while time.time() < deadline:
                done = await asyncio.to_thread(rota.store.count_runs)
                active = await asyncio.to_thread(rota.store.active_runs)
                if done >= args.jobs and not active:
                    break
                await asyncio.sleep(0.05)
            runs = []
            before = None
            while page := await asyncio.to_thread(rota.runs, None, None, 10_000, before):
                runs += [run for run in page if run.job.startswith(PREFIX)]
                before = page[-1].id
            await rota.stop_async()
            return summarise(args, at, ready, runs)

        return asyncio.run(main())
    finally:
        for helper in helpers:
            helper.send_signal(signal.SIGTERM)
        for helper in helpers:
            helper.wait(timeout=30)


def summarise(args: argparse.Namespace, at: float, ready: float, runs: list) -> Result:  # type: ignore[type-arg]
    per_job: dict[str, int] = {}
    finished, late, nodes = [], [], set()
    for run in runs:
        per_job[run.job] = per_job.get(run.job, 0) + 1
        if run.finished_at is not None and run.status.value == "succeeded":
            finished.append(run.finished_at.timestamp())
        if run.started_at is not None and run.fire_time is not None:
            late.append((run.started_at - run.fire_time).total_seconds() * 1000)
        nodes.add(run.node)
    once = len(per_job) == args.jobs and set(per_job.values()) == {1} and len(finished) == args.jobs
    result: Result = {
        "jobs": args.jobs,
        "nodes": args.nodes,
        "setup_left_s": at - ready,
        "exactly_once": once,
        "nodes_that_ran": len(nodes),
        "recorded_late_p50_ms": percentile(late, 50),
        "recorded_late_p99_ms": percentile(late, 99),
    }
    if finished:
        result["runs_per_s"] = len(finished) / (max(finished) - at)
    if not once:
        result["note"] = f"{len(per_job)} jobs ran, {len(finished)} runs succeeded"
    return result


def run(args: argparse.Namespace, tmp: Path) -> Result:
    if args.phase == "node":
        return node(args)
    base = server_url()
    schema = f"rota_bench_{os.getpid()}_{secrets.token_hex(3)}"
    ddl(base, f"CREATE SCHEMA {schema}")
    try:
        return measure(args, schema_url(base, schema))
    finally:
        ddl(base, f"DROP SCHEMA {schema} CASCADE")


def main() -> int:
    arguments = parser(__doc__.split("\n")[0])
    arguments.add_argument("--jobs", type=int, default=2000)
    arguments.add_argument("--nodes", type=int, default=1)
    arguments.add_argument("--lead", type=float, default=4.0, help="seconds until they are due")
    arguments.add_argument("--timeout", type=float, default=120.0, help="wait after the instant")
    arguments.add_argument("--phase", choices=["measure", "node"], default="measure")
    arguments.add_argument("--url", help=argparse.SUPPRESS)
    arguments.add_argument("--at", type=float, help=argparse.SUPPRESS)
    return workload_main(arguments, run)


if __name__ == "__main__":
    sys.exit(main())
