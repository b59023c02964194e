"""Which workload processes a run starts: the full suite, or the quick smoke run."""

from __future__ import annotations

from dataclasses import dataclass

BOTH = ("rota", "apscheduler")


@dataclass(frozen=True)
class Task:
    """One workload at one size: started once per system per repetition."""

    workload: str  # W1 ... W4, floor
    config: str  # what distinguishes it in the tables, e.g. "N=10,000"
    module: str  # bench.workloads.<module>
    args: tuple[str, ...]
    timeout: float  # seconds for one process
    systems: tuple[str, ...] = BOTH


def full() -> list[Task]:
    tasks = [
        Task("W1", f"N={n:,}", "register", ("--n", str(n)), 420) for n in (1000, 10_000, 100_000)
    ]
    tasks.append(Task("W2", "2,000 jobs", "burst", ("--jobs", "2000"), 180))
    tasks.append(
        Task("W3", "300 jobs, 5,000 idle", "precision", ("--jobs", "300", "--idle", "5000"), 180)
    )
    tasks += [
        Task("W4", f"N={n:,}, 10 s", "idle", ("--n", str(n), "--seconds", "10"), 300)
        for n in (10_000, 100_000)
    ]
    tasks += [
        Task(
            "W5",
            f"2,000 jobs, {n} node{'s' * (n > 1)}",
            "cluster",
            ("--jobs", "2000", "--nodes", str(n)),
            240,
            systems=("rota",),
        )
        for n in (1, 3)
    ]
    tasks.append(
        Task(
            "W6",
            "10,000 jobs every 1 s, 60 s",
            "overload",
            ("--jobs", "10000", "--seconds", "60"),
            300,
            systems=("rota",),
        )
    )
    tasks.append(Task("floor", "no scheduler", "floor", (), 180, systems=("floor",)))
    return tasks


def quick() -> list[Task]:
    return [
        Task("W1", "N=1,000", "register", ("--n", "1000"), 120),
        Task("W2", "300 jobs", "burst", ("--jobs", "300", "--lead", "1.5"), 60),
        Task(
            "W3",
            "50 jobs, 1,000 idle",
            "precision",
            ("--jobs", "50", "--idle", "1000", "--lead", "2"),
            60,
        ),
        Task(
            "W4", "N=1,000, 2 s", "idle", ("--n", "1000", "--seconds", "2", "--settle", "0.5"), 60
        ),
        Task(
            "W5",
            "200 jobs, 2 nodes",
            "cluster",
            ("--jobs", "200", "--nodes", "2", "--lead", "3"),
            90,
            systems=("rota",),
        ),
        Task(
            "W6",
            "2,000 jobs every 1 s, 4 s",
            "overload",
            ("--jobs", "2000", "--seconds", "4"),
            60,
            systems=("rota",),
        ),
        Task("floor", "no scheduler", "floor", ("--scale", "0.2"), 60, systems=("floor",)),
    ]
