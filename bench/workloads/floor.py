"""Floor: what this machine does without a scheduler, as a yardstick for W2 and W3.

    python -m bench.workloads.floor [--scale 0.2]

- SQLite (stdlib sqlite3, WAL, synchronous=NORMAL like rota): insert one run row and update it to
  finished, one row per transaction, and 100 rows per transaction;
- ThreadPoolExecutor(10): no-op calls per second, submitted at once and awaited;
- asyncio: tasks created and run per second;
- asyncio.sleep(0.001): how much later than 1 ms it returns (p50, p99).
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import sys
import time
from concurrent.futures import ThreadPoolExecutor, wait
from pathlib import Path

from bench.common import Result, percentile, workload_main

SCHEMA = """
CREATE TABLE runs (
    id INTEGER PRIMARY KEY, job TEXT NOT NULL, status TEXT NOT NULL,
    fire_time TEXT, started_at TEXT, finished_at TEXT
)
"""


def sqlite_rows_per_s(path: Path, rows: int, per_transaction: int) -> float:
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=NORMAL")
    connection.execute(SCHEMA)
    stamp = "2026-01-01 00:00:00.000000"
    began = time.perf_counter()
    for start in range(0, rows, per_transaction):
        connection.execute("BEGIN IMMEDIATE")
        for i in range(start, min(start + per_transaction, rows)):
            cursor = connection.execute(
                "INSERT INTO runs (job, status, fire_time, started_at) VALUES (?, ?, ?, ?)",
                (f"job-{i}", "running", stamp, stamp),
            )
            connection.execute(
                "UPDATE runs SET status = ?, finished_at = ? WHERE id = ?",
                ("succeeded", stamp, cursor.lastrowid),
            )
        connection.execute("COMMIT")
    elapsed = time.perf_counter() - began
    connection.close()
    return rows / elapsed


def nothing() -> None:
    pass


def pool_calls_per_s(calls: int) -> float:
    with ThreadPoolExecutor(10) as pool:
        began = time.perf_counter()
        wait([pool.submit(nothing) for _ in range(calls)])
        return calls / (time.perf_counter() - began)


async def _idle() -> None:
    pass


async def tasks_per_s(count: int) -> float:
    began = time.perf_counter()
    await asyncio.gather(*(asyncio.create_task(_idle()) for _ in range(count)))
    return count / (time.perf_counter() - began)


async def oversleep_ms(samples: int) -> list[float]:
    late = []
    for _ in range(samples):
        began = time.perf_counter()
        await asyncio.sleep(0.001)
        late.append((time.perf_counter() - began) * 1000 - 1)
    return late


def run(args: argparse.Namespace, tmp: Path) -> Result:
    def scaled(count: int) -> int:
        return max(100, int(count * args.scale))

    late = asyncio.run(oversleep_ms(scaled(1000)))
    return {
        "sqlite_1_per_tx_rows_per_s": sqlite_rows_per_s(tmp / "one.db", scaled(3000), 1),
        "sqlite_100_per_tx_rows_per_s": sqlite_rows_per_s(tmp / "many.db", scaled(30000), 100),
        "pool_calls_per_s": pool_calls_per_s(scaled(30000)),
        "asyncio_tasks_per_s": asyncio.run(tasks_per_s(scaled(100000))),
        "sleep_1ms_over_p50_ms": percentile(late, 50),
        "sleep_1ms_over_p99_ms": percentile(late, 99),
    }


def main() -> int:
    arguments = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    arguments.add_argument("--scale", type=float, default=1.0, help="fewer samples below 1")
    return workload_main(arguments, run)


if __name__ == "__main__":
    sys.exit(main())
