"""What every workload process shares: arguments, its temp directory, its one JSON line of
results, schedules that are not due soon, percentiles and resource usage."""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import signal
import tempfile
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import Any

Result = dict[str, Any]
SYSTEMS = ("rota", "apscheduler")
# Schedules the workloads call "idle" fire no sooner than this after their generation.
QUIET = timedelta(minutes=10)


@dataclass(frozen=True)
class Spec:
    """One idle schedule, spelled the same for both systems: daily cron at hour:minute (UTC), or an
    interval of `seconds` anchored at `anchor` (its first fire time)."""

    kind: str
    minute: int = 0
    hour: int = 0
    seconds: int = 0
    anchor: datetime | None = None


def make_specs(count: int, base: float) -> list[Spec]:
    """`count` schedules, half daily crons with varied minutes and hours, half intervals of
    1-3600 s; none fires within `QUIET` of `base` (epoch seconds). The same `base` gives the
    same specs, so a second process can register exactly what the first did."""
    start = datetime.fromtimestamp(int(base), UTC)
    anchor = start + QUIET
    specs: list[Spec] = []
    for i in range(count):
        if i % 2:
            specs.append(Spec("interval", seconds=1 + (i * 37) % 3600, anchor=anchor))
            continue
        minute, hour = (i * 7) % 60, (i // 2) % 24
        while _next_daily(start, hour, minute) - start <= QUIET:
            minute = (minute + 15) % 60
        specs.append(Spec("cron", minute=minute, hour=hour))
    return specs


def _next_daily(after: datetime, hour: int, minute: int) -> datetime:
    candidate = after.replace(hour=hour, minute=minute, second=0)
    return candidate if candidate > after else candidate + timedelta(days=1)


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100), linear between the closest ranks; NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def spread(values_ms: Sequence[float], prefix: str) -> Result:
    """p50, p99 and max of millisecond values, as `prefix`_p50_ms and so on."""
    return {
        f"{prefix}_p50_ms": percentile(values_ms, 50),
        f"{prefix}_p99_ms": percentile(values_ms, 99),
        f"{prefix}_max_ms": max(values_ms) if values_ms else math.nan,
    }


def peak_rss_mb() -> float:
    """This process's peak resident set size so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cpu_seconds() -> float:
    """User + system CPU time of this process, all threads."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def parser(description: str) -> argparse.ArgumentParser:
    """An argument parser with `--system`."""
    result = argparse.ArgumentParser(description=description)
    result.add_argument("--system", choices=SYSTEMS, required=True)
    return result


def _terminate(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)  # unwinds, so the temp directory is removed


def workload_main(
    arguments: argparse.ArgumentParser, run: Callable[[argparse.Namespace, Path], Result]
) -> int:
    """Parse the arguments, run in a fresh temp directory (removed afterwards, also on SIGTERM),
    and print the result, or ``{"error": ...}``, as one JSON line. A process given ``--dir``
    works in that directory instead, which its parent owns and removes."""
    args = arguments.parse_args()
    signal.signal(signal.SIGTERM, _terminate)
    try:
        given: Path | None = getattr(args, "dir", None)
        if given is not None:
            result = run(args, given)
        else:
            scratch = os.environ.get("BENCH_TMP")
            with tempfile.TemporaryDirectory(prefix="rota-bench-", dir=scratch) as d:
                result = run(args, Path(d))
    except Exception as error:
        traceback.print_exc()
        print(json.dumps({"error": f"{type(error).__name__}: {error}"[:300]}), flush=True)
        return 1
    print(json.dumps(result), flush=True)
    return 0 if "error" not in result else 1
