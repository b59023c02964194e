"""Job chains as the engine and the admin see them: which jobs each job is after, the check
that refuses a chain that cannot work, and the runs a chain created (decision 0011).

The store decides what a success triggers (`rota.store.operations.Chain`); the engine only names the
jobs to look at, from the job rows it knows, and takes up the runs that were created.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from rota.engine.jobs import JobDefinition
from rota.errors import SettingError
from rota.schedules import After
from rota.store.chains import after_jobs
from rota.store.records import JobRecord

__all__ = [
    "Chains",
    "chain_problem",
    "check_chains",
    "check_change",
    "check_code_chains",
    "downstream_of",
    "upstream_of_records",
]


def upstream_of_records(records: Iterable[JobRecord]) -> dict[str, tuple[str, ...]]:
    """Each job's upstream jobs, by the stored rows (override over defaults); jobs that are
    after nothing are left out."""
    graph: dict[str, tuple[str, ...]] = {}
    for record in records:
        upstream = after_jobs(record.defaults, record.override)
        if upstream:
            graph[record.name] = upstream
    return graph


def downstream_of(graph: Mapping[str, tuple[str, ...]], job: str) -> tuple[str, ...]:
    """The jobs that are after `job`, by name."""
    return tuple(sorted(name for name, upstream in graph.items() if job in upstream))


def chain_problem(
    graph: Mapping[str, tuple[str, ...]], known: Iterable[str], first: str | None = None
) -> tuple[str, str] | None:
    """What is wrong with the chains of `graph` (job → the jobs it is after) among the `known`
    jobs, as (the job, what): a job after itself, after an unknown job, or in a cycle (named
    in the order it would run, ``a → b → a``); None if nothing is. Stable: by job name, job
    `first` (the one being changed) before the others."""
    names = set(known)
    order = sorted(graph, key=lambda job: (job != first, job))
    for job in order:
        if job in graph[job]:
            return job, f"job {job!r} is after itself"
        for upstream in graph[job]:
            if upstream not in names:
                return job, f"job {job!r} is after {upstream!r}, and there is no job {upstream!r}"
    # Depth-first search for a cycle, following each job to the jobs it is after.
    done: set[str] = set()
    for start in order:
        path: list[str] = []
        on_path: set[str] = set()
        stack: list[tuple[str, int]] = [(start, 0)]
        while stack:
            job, index = stack.pop()
            if index == 0:
                if job in done:
                    continue
                path.append(job)
                on_path.add(job)
            after = graph.get(job, ())
            if index < len(after):
                stack.append((job, index + 1))
                following = after[index]
                if following in on_path:
                    cycle = [*path[path.index(following) :], following]
                    # Written in the order it would run, from the job it was found from.
                    runs = list(reversed(cycle))
                    if start in runs[:-1]:
                        at = runs.index(start)
                        runs = [*runs[at:-1], *runs[:at], start]
                    return start, "the chain is a cycle: " + " → ".join(runs)
                if following not in done:
                    stack.append((following, 0))
                continue
            path.pop()
            on_path.discard(job)
            done.add(job)
    return None


def check_chains(
    graph: Mapping[str, tuple[str, ...]], known: Iterable[str], first: str | None = None
) -> None:
    """SettingError (field ``schedule``) naming what `chain_problem` finds, if anything."""
    problem = chain_problem(graph, known, first)
    if problem is not None:
        job, what = problem
        raise SettingError("schedule", "after " + ", ".join(graph[job]), what)


def check_code_chains(
    definitions: Mapping[str, JobDefinition], records: Iterable[JobRecord]
) -> None:
    """Refuse the code's chains (SettingError): every job in the store and in the code, each
    code job with its code's schedule unless an admin overrode it."""
    rows = {record.name: record for record in records}
    graph = upstream_of_records(rows.values())
    for name, definition in definitions.items():
        record = rows.get(name)
        if record is not None and "schedule" in record.override:
            continue
        schedule = definition.settings.schedule
        if isinstance(schedule, After):
            graph[name] = schedule.jobs
        else:
            graph.pop(name, None)
    check_chains(graph, set(rows) | set(definitions))


def check_change(records: Iterable[JobRecord], name: str, upstream: tuple[str, ...]) -> None:
    """Refuse a change that makes job `name` after `upstream` (() for none) where it breaks a
    chain of the stored jobs (SettingError naming the cycle or the unknown job)."""
    rows = list(records)
    known = {record.name for record in rows} | {name}
    # Only this change is judged: other jobs' edges to jobs that are gone are left out.
    graph = {
        job: tuple(up for up in ups if up in known)
        for job, ups in upstream_of_records(rows).items()
    }
    graph[name] = upstream
    check_chains({job: ups for job, ups in graph.items() if ups}, known, first=name)


class Chains:
    """The engine's view of the chains: each job's upstream jobs, from the job rows it read
    (every job in the store, whether this node has its code or not)."""

    def __init__(self) -> None:
        self.graph: dict[str, tuple[str, ...]] = {}

    def load(self, records: Iterable[JobRecord]) -> None:
        """Start again from these rows (all jobs)."""
        self.graph = upstream_of_records(records)

    def update(self, name: str, record: JobRecord | None) -> None:
        """A job's row as read again (None: removed)."""
        upstream = () if record is None else after_jobs(record.defaults, record.override)
        if upstream:
            self.graph[name] = upstream
        else:
            self.graph.pop(name, None)

    def downstream(self, job: str) -> tuple[str, ...]:
        """The jobs after `job`: those a success of it may trigger."""
        return downstream_of(self.graph, job)
