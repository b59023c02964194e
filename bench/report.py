"""Markdown tables of collected results: per workload median (min-max) per system, the ratio
rota/APScheduler per repetition, the issue's targets beside rota's medians, and the floor."""

from __future__ import annotations

import math
import os
import platform
import sqlite3
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

Outcome = dict[str, Any]
Collected = dict[tuple[str, str], dict[str, list[Outcome]]]


@dataclass(frozen=True)
class Metric:
    key: str
    label: str
    ratio: bool = True


TITLES = {
    "W1": "W1 register: N idle schedules made durable; then a second process on that store",
    "W2": "W2 burst: one-shot no-op jobs all due at one instant",
    "W3": "W3 precision: one-shot jobs due 20 ms apart among idle schedules",
    "W4": "W4 idle: CPU while nothing is due",
    "W5": "W5 cluster: W2's burst on PostgreSQL, by one node or several sharing it (rota only)",
    "W6": "W6 overload: many jobs every second on SQLite, more than can run (rota only)",
    "floor": "Floor: this machine without a scheduler",
}
METRICS = {
    "W1": [
        Metric("per_add_ms", "ms per durable add"),
        Metric("rss_add_mb", "peak RSS adding, MB"),
        Metric("first_run_s", "first run, s after spawn"),
        Metric("first_run_after_start_s", "first run, s after start call"),
        Metric("rss_restart_mb", "peak RSS restart, MB"),
    ],
    "W2": [
        Metric("runs_per_s", "runs/s"),
        Metric("recorded_late_p50_ms", "recorded late p50 ms", ratio=False),
        Metric("recorded_late_p99_ms", "recorded late p99 ms", ratio=False),
        Metric("call_late_p50_ms", "call late p50 ms"),
        Metric("call_late_p99_ms", "call late p99 ms"),
        Metric("exactly_once", "exactly once", ratio=False),
    ],
    "W3": [
        Metric("recorded_late_p50_ms", "recorded late p50 ms", ratio=False),
        Metric("recorded_late_p99_ms", "recorded late p99 ms", ratio=False),
        Metric("recorded_late_max_ms", "recorded late max ms", ratio=False),
        Metric("call_late_p50_ms", "call late p50 ms"),
        Metric("call_late_p99_ms", "call late p99 ms"),
        Metric("call_late_max_ms", "call late max ms"),
        Metric("exactly_once", "exactly once", ratio=False),
    ],
    "W4": [Metric("cpu_s_per_10s", "CPU s per 10 s"), Metric("rss_mb", "peak RSS, MB")],
    "W5": [
        Metric("runs_per_s", "runs/s", ratio=False),
        Metric("recorded_late_p50_ms", "recorded late p50 ms", ratio=False),
        Metric("recorded_late_p99_ms", "recorded late p99 ms", ratio=False),
        Metric("nodes_that_ran", "nodes that ran runs", ratio=False),
        Metric("exactly_once", "exactly once", ratio=False),
    ],
    "W6": [
        Metric("fire_times_due", "fire times due", ratio=False),
        Metric("fire_times_run", "fire times run", ratio=False),
        Metric("late_first_p99_ms", "late p99 ms, first third", ratio=False),
        Metric("late_last_p99_ms", "late p99 ms, last third", ratio=False),
        Metric("rows_per_job", "rows per job", ratio=False),
        Metric("db_growth_mb", "DB growth, MB", ratio=False),
        Metric("runs_per_job_min", "fewest runs of a job", ratio=False),
        Metric("longest_tx_ms", "longest transaction ms", ratio=False),
        Metric("prune_s", "prune s", ratio=False),
    ],
    "floor": [
        Metric("sqlite_1_per_tx_rows_per_s", "SQLite rows/s, 1 per tx"),
        Metric("sqlite_100_per_tx_rows_per_s", "SQLite rows/s, 100 per tx"),
        Metric("pool_calls_per_s", "thread pool calls/s"),
        Metric("asyncio_tasks_per_s", "asyncio tasks/s"),
        Metric("sleep_1ms_over_p50_ms", "sleep(1 ms) over p50 ms"),
        Metric("sleep_1ms_over_p99_ms", "sleep(1 ms) over p99 ms"),
    ],
}
# (label, workload, config, metric, "<=" or ">=", limit)
TARGETS = [
    ("W1 ms per durable add <= 0.1", "W1", "N=1,000", "per_add_ms", "<=", 0.1),
    ("W1 ms per durable add <= 0.1", "W1", "N=10,000", "per_add_ms", "<=", 0.1),
    ("W1 ms per durable add <= 0.1", "W1", "N=100,000", "per_add_ms", "<=", 0.1),
    ("W1 100,000: first run <= 0.3 s after start", "W1", "N=100,000", "first_run_s", "<=", 0.3),
    ("peak RSS <= 60 MB, 10,000 (W1 adding)", "W1", "N=10,000", "rss_add_mb", "<=", 60),
    ("peak RSS <= 60 MB, 10,000 (W1 restart)", "W1", "N=10,000", "rss_restart_mb", "<=", 60),
    ("peak RSS <= 60 MB, 10,000 (W4)", "W4", "N=10,000, 10 s", "rss_mb", "<=", 60),
    ("W2 >= 10,000 runs/s with history", "W2", "2,000 jobs", "runs_per_s", ">=", 10_000),
    ("W2 lateness p99 <= 200 ms", "W2", "2,000 jobs", "recorded_late_p99_ms", "<=", 200),
    ("W2 exactly once", "W2", "2,000 jobs", "exactly_once", ">=", 1),
    ("W3 lateness p50 <= 1 ms", "W3", "300 jobs, 5,000 idle", "recorded_late_p50_ms", "<=", 1),
    ("W3 lateness p99 <= 2 ms", "W3", "300 jobs, 5,000 idle", "recorded_late_p99_ms", "<=", 2),
    ("W4 100,000: CPU s per 10 s <= 0.002", "W4", "N=100,000, 10 s", "cpu_s_per_10s", "<=", 0.002),
]


def fmt(value: float) -> str:
    """A number with as many digits as its size deserves."""
    size = abs(value)
    if math.isnan(value):
        return "-"
    if size >= 1000:
        return f"{value:,.0f}"
    if size >= 100:
        return f"{value:.0f}"
    if size >= 10:
        return f"{value:.1f}"
    if size >= 1 or size == 0:
        return f"{value:.2f}"
    if size >= 0.01:
        return f"{value:.3f}"
    return f"{value:.{1 - math.floor(math.log10(size))}f}"  # two significant digits


def values(outcomes: Sequence[Outcome], key: str) -> list[float]:
    return [float(o[key]) for o in outcomes if key in o and "error" not in o]


def median(outcomes: Sequence[Outcome], key: str) -> float:
    found = values(outcomes, key)
    return statistics.median(found) if found else math.nan


def cell(outcomes: Sequence[Outcome], metric: Metric) -> str:
    found = values(outcomes, metric.key)
    if not found:
        return "-"
    if metric.key == "exactly_once":
        return f"{sum(1 for v in found if v)}/{len(found)} yes"
    middle = fmt(statistics.median(found))
    return middle if len(found) == 1 else f"{middle} ({fmt(min(found))}-{fmt(max(found))})"


def ratios(by_system: dict[str, list[Outcome]], metric: Metric) -> str:
    if not metric.ratio or "apscheduler" not in by_system:
        return ""
    found = []
    for mine, theirs in zip(by_system["rota"], by_system["apscheduler"], strict=False):
        a, b = values([mine], metric.key), values([theirs], metric.key)
        if a and b and b[0]:
            found.append(fmt(a[0] / b[0]))
    return " / ".join(found) if found else "-"


def notes(outcomes: Sequence[Outcome]) -> str:
    """Errors, skips and notes, each message once with the repetitions that said it."""
    said: dict[str, list[str]] = {}
    for o in outcomes:
        for key in ("error", "note", "skipped"):
            if key in o:
                text = str(o[key])
                text = text if key != "skipped" or text.startswith("skipped") else f"skipped {text}"
                said.setdefault(text, []).append(str(o["_rep"]))
    return "; ".join(f"rep{'s' if len(r) > 1 else ''} {', '.join(r)}: {t}" for t, r in said.items())


def table(headers: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(r[i]) for r in [headers, *rows]) for i in range(len(headers))]
    lines = ["| " + " | ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)) + " |"]
    lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in rows:
        lines.append("| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |")
    return lines


def workload_table(workload: str, collected: Collected) -> list[str]:
    metrics = METRICS[workload]
    rows = []
    for config, by_system in ((c, v) for (w, c), v in collected.items() if w == workload):
        for system, outcomes in by_system.items():
            label = "-" if system == "floor" else system
            rows.append([config, label, *(cell(outcomes, m) for m in metrics), notes(outcomes)])
        if "apscheduler" in by_system:
            each = [ratios(by_system, m) for m in metrics]
            rows.append([config, "rota/APScheduler, per rep", *each, ""])
    return table(["", "system", *(m.label for m in metrics), "notes"], rows)


def target_table(collected: Collected) -> list[str]:
    rows = []
    for label, workload, config, key, sense, limit in TARGETS:
        by_system = collected.get((workload, config))
        if by_system is None:
            rows.append([label, f"{workload} {config}", "-", "-", "not in this run"])
            continue
        mine = median(by_system.get("rota", []), key)
        theirs = median(by_system.get("apscheduler", []), key)
        if math.isnan(mine):
            verdict = "not measured"
        else:
            verdict = "met" if (mine <= limit if sense == "<=" else mine >= limit) else "not met"
        shown = [
            ("yes" if v else "no") if key == "exactly_once" and not math.isnan(v) else fmt(v)
            for v in (mine, theirs)
        ]
        rows.append([label, f"{workload} {config}", *shown, verdict])
    return table(["target", "measured in", "rota median", "APScheduler median", "rota"], rows)


def floor_fractions(collected: Collected) -> list[str]:
    burst = next((v for (w, _), v in collected.items() if w == "W2"), None)
    floor = next((v for (w, _), v in collected.items() if w == "floor"), None)
    if burst is None or floor is None:
        return []
    runs = median(burst.get("rota", []), "runs_per_s")
    rows = []
    for key, label in (
        ("sqlite_1_per_tx_rows_per_s", "SQLite insert+update, 1 row per transaction"),
        ("sqlite_100_per_tx_rows_per_s", "SQLite insert+update, 100 rows per transaction"),
        ("pool_calls_per_s", "ThreadPoolExecutor(10) no-op calls"),
        ("asyncio_tasks_per_s", "asyncio tasks created and run"),
    ):
        rows.append([f"rota W2 runs/s / {label}", fmt(runs / median(floor["floor"], key))])
    p99 = median(burst.get("rota", []), "recorded_late_p99_ms")
    over = median(floor["floor"], "sleep_1ms_over_p99_ms")
    rows.append(
        ["rota W2 recorded lateness p99 / asyncio.sleep(1 ms) oversleep p99", fmt(p99 / over)]
    )
    return table(["rota W2 against the floor (medians)", "ratio"], rows)


def describe_machine() -> str:
    cpu = "unknown CPU"
    memory = ""
    cpuinfo, meminfo = Path("/proc/cpuinfo"), Path("/proc/meminfo")
    if cpuinfo.exists():
        names = [
            ln.split(":", 1)[1].strip()
            for ln in cpuinfo.read_text().splitlines()
            if ln.startswith("model name")
        ]
        cpu = names[0] if names else cpu
    if meminfo.exists():
        kib = int(meminfo.read_text().split()[1])
        memory = f", {kib / 1024 / 1024:.0f} GiB"
    versions = ", ".join(
        f"{name} {metadata.version(name)}" for name in ("rota", "APScheduler", "SQLAlchemy")
    )
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return (
        f"{os.cpu_count()} cores ({cpu}){memory}, {platform.platform()}, "
        f"CPython {platform.python_version()}, SQLite {sqlite3.sqlite_version}, {versions}; "
        f"load average at start {load}"
    )


def render(collected: Collected, meta: dict[str, Any]) -> str:
    """The whole report: a header, one table per workload, the floor and the targets."""
    lines = [
        f"# rota vs APScheduler: {meta['command']}",
        "",
        f"{meta['started']}, {meta['reps']} repetition(s), {meta['minutes']:.1f} min.",
        f"Machine: {meta['machine']}.",
        "Cells: median (min-max) over repetitions; ratios: rota/APScheduler, one per repetition.",
    ]
    for workload in dict.fromkeys(w for w, _ in collected):
        lines += ["", f"## {TITLES[workload]}", "", *workload_table(workload, collected)]
    fractions = floor_fractions(collected)
    if fractions:
        lines += ["", *fractions]
    lines += ["", "## Targets (issue 4) beside rota's medians", "", *target_table(collected)]
    return "\n".join(lines)
