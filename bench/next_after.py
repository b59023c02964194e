"""Time `Cron.next_after` for typical 5-field expressions, beside cronsim in the same run.

    .venv/bin/python bench/next_after.py            # full run (about a minute)
    .venv/bin/python bench/next_after.py --quick    # smoke test: few samples, seconds

Each call starts from an arbitrary instant (what a scheduler asks after a restart or an edit):
rota calls ``schedule.next_after(t)`` on a schedule built once; cronsim builds ``CronSim(expr, t)``
and takes ``next()`` (it has no other way to start from an instant). A second table times walking
successive fire times, where cronsim keeps its iterator. In UTC both must give the same fire
times; the run checks that and fails if they differ. Target: median <= 30 us a call.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
import zlib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from cronsim import CronSim

from rota.schedules import Cron

EXPRESSIONS = [
    "*/15 * * * *",
    "30 2 * * *",
    "0 4 * * 0",
    "0 */2 * * *",
    "0 0 1 * *",
    "*/10 9-17 * * mon-fri",
    "0 3 L * *",
]
ZONES = ["UTC", "Europe/Berlin"]
TARGET_US = 30.0


def starts(count: int, seed: int) -> list[datetime]:
    rng = random.Random(seed)
    base = datetime(2026, 1, 1, tzinfo=UTC)
    return [base + timedelta(seconds=rng.randrange(365 * 86400)) for _ in range(count)]


def per_call_us(call: Callable[[datetime], object], instants: list[datetime]) -> list[float]:
    timings = []
    clock = time.perf_counter_ns
    for t in instants:
        began = clock()
        call(t)
        timings.append((clock() - began) / 1000)
    return timings


def walk_us(step: Callable[[], object], count: int) -> float:
    began = time.perf_counter_ns()
    for _ in range(count):
        step()
    return (time.perf_counter_ns() - began) / 1000 / count


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="few samples: a smoke test")
    args = parser.parse_args()
    samples = 300 if args.quick else 20_000
    mismatches = 0
    rota_all: list[float] = []
    print(f"next_after from an arbitrary instant, {samples} calls each (microseconds)\n")
    print(f"| {'expression':<22} | {'zone':<13} | rota p50 | rota p90 | cronsim p50 | ratio |")
    print(f"|{'-' * 24}|{'-' * 15}|---------:|---------:|------------:|------:|")
    for zone_name in ZONES:
        zone = ZoneInfo(zone_name)
        for expression in EXPRESSIONS:
            schedule = Cron(expression, zone_name)
            instants = starts(samples, seed=zlib.crc32(expression.encode()))
            schedule.next_after(instants[0])  # warm the zone's transition cache
            ours = per_call_us(schedule.next_after, instants)
            local = [t.astimezone(zone) for t in instants]
            theirs = per_call_us(lambda t, e=expression: next(CronSim(e, t)), local)
            if zone_name == "UTC":
                for t in instants[:200]:
                    if schedule.next_after(t) != next(CronSim(expression, t)):
                        mismatches += 1
                        print(f"MISMATCH {expression!r} from {t.isoformat()}", file=sys.stderr)
            rota_all.extend(ours)
            ours_p50, theirs_p50 = statistics.median(ours), statistics.median(theirs)
            p90 = statistics.quantiles(ours, n=10)[-1]
            print(
                f"| {expression:<22} | {zone_name:<13} | {ours_p50:8.1f} | {p90:8.1f} "
                f"| {theirs_p50:11.1f} | {ours_p50 / theirs_p50:5.2f} |"
            )
    overall = statistics.median(rota_all)
    print(f"\nrota median over all calls: {overall:.1f} us (target <= {TARGET_US:.0f} us)")

    steps = 200 if args.quick else 20_000
    print(f"\nwalking {steps} successive fire times (microseconds per step)\n")
    print(f"| {'expression':<22} | {'zone':<13} | rota | cronsim |")
    print(f"|{'-' * 24}|{'-' * 15}|-----:|--------:|")
    start = datetime(2026, 1, 1, tzinfo=UTC)
    for zone_name in ZONES:
        for expression in EXPRESSIONS:
            schedule = Cron(expression, zone_name)
            cursor = [start]

            def ours_step(s: Cron = schedule, c: list[datetime] = cursor) -> None:
                c[0] = s.next_after(c[0]) or c[0]

            iterator = CronSim(expression, start.astimezone(ZoneInfo(zone_name)))
            print(
                f"| {expression:<22} | {zone_name:<13} | {walk_us(ours_step, steps):4.1f} "
                f"| {walk_us(lambda it=iterator: next(it), steps):7.1f} |"
            )
    if mismatches:
        print(f"\n{mismatches} fire times differ from cronsim in UTC", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
