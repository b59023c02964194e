"""What `Chain` decides for one downstream job, as a pure step both stores carry out.

The store reads the downstream's row, its edges and its active runs under a lock of its row,
asks `chain_step`, and writes what it says (decision 0011). Nothing here reads a store or a
clock, so the memory and SQL stores cannot disagree about a chain.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from rota.store.abc import NewRun
from rota.store.records import Reason, RunStatus

__all__ = ["ChainStep", "EdgeState", "after_jobs", "chain_step"]


@dataclass(frozen=True)
class EdgeState:
    """One edge (downstream, upstream): the upstream's newest success counted, and the one
    the downstream's last dependency run consumed (run ids; None for none yet)."""

    last_success: int | None = None
    last_consumed: int | None = None

    @property
    def pending(self) -> bool:
        """Whether the upstream has succeeded since the downstream last ran after it (each
        success is counted once, so a new one is never the one consumed)."""
        return self.last_success is not None and self.last_success != self.last_consumed


@dataclass(frozen=True)
class ChainStep:
    """What to write for one downstream: its edges (by upstream), and the run to create (with
    the upstream runs that triggered it, and the active runs it replaces), if any."""

    edges: dict[str, EdgeState]
    run: NewRun | None = None
    upstream_runs: dict[str, int] = field(default_factory=dict)
    replaces: tuple[int, ...] = ()


def after_jobs(defaults: Mapping[str, Any], override: Mapping[str, Any]) -> tuple[str, ...]:
    """The upstream jobs of a job whose effective schedule (as stored: override over defaults)
    is ``after`` some jobs; () for any other schedule."""
    schedule = override.get("schedule", defaults.get("schedule"))
    if not isinstance(schedule, Mapping) or schedule.get("kind") != "after":
        return ()
    jobs = schedule.get("jobs")
    if not isinstance(jobs, list | tuple):
        return ()
    return tuple(str(name) for name in jobs)


def chain_step(
    downstream: str,
    row: tuple[Mapping[str, Any], Mapping[str, Any], bool],
    edges: Mapping[str, EdgeState],
    upstream: str,
    run_id: int,
    at: datetime,
    active: Sequence[tuple[int, RunStatus]],
) -> ChainStep | None:
    """The step for `downstream` (its row as (defaults, override, paused), its edges by
    upstream, its active runs as (id, status) ascending) when run `run_id` of `upstream`
    succeeded at `at`; None when nothing is to be written: the downstream is paused or is no
    longer after `upstream`. The store calls it once per success: in the transaction whose
    Finish recorded it (see `Chain`)."""
    defaults, override, paused = row
    upstreams = after_jobs(defaults, override)
    if paused or upstream not in upstreams:
        return None
    edge = edges.get(upstream, EdgeState())
    counted = EdgeState(run_id, edge.last_consumed)
    current = {**edges, upstream: counted}
    if not all(name in current and current[name].pending for name in upstreams):
        return ChainStep({upstream: counted})
    triggering = {name: current[name].last_success for name in upstreams}
    consumed = {name: EdgeState(run, run) for name, run in triggering.items()}
    links = {name: run for name, run in triggering.items() if run is not None}
    note = "after " + ", ".join(f"{name} (run {run})" for name, run in links.items())
    setting = {**defaults, **override}
    create, why, replaces = _overlap(setting, active)
    if not create:
        skipped = NewRun(
            downstream,
            Reason.DEPENDENCY,
            at,
            RunStatus.SKIPPED,
            note=f"{why}; {note}",
            upstream_runs=links,
        )
        return ChainStep(consumed, skipped, links)
    args = setting.get("args") or {}
    queued = NewRun(
        downstream, Reason.DEPENDENCY, at, args=dict(args), note=note, upstream_runs=links
    )
    return ChainStep(consumed, queued, links, replaces)


def _overlap(
    setting: Mapping[str, Any], active: Sequence[tuple[int, RunStatus]]
) -> tuple[bool, str | None, tuple[int, ...]]:
    """The downstream's overlap policy against its active runs: (create, why not, replaces).

    The rule of `rota.engine.policies.decide_overlap`, which the store layer cannot import
    (the engine sits above it); tests/store/test_contract_chains.py holds the two together.
    """
    policy = setting.get("overlap", "skip")
    running = [run_id for run_id, status in active if status is RunStatus.RUNNING]
    queued = [run_id for run_id, status in active if status is RunStatus.QUEUED]
    if policy == "replace":
        return True, None, tuple(sorted(running + queued))
    if policy == "allow":
        limit = int(setting.get("max_concurrent", 1))
        if len(active) < limit:
            return True, None, ()
        return False, f"{len(active)} runs active, max_concurrent is {limit}", ()
    if policy == "queue":
        if not queued:
            return True, None, ()
        return False, f"run {queued[0]} is already waiting (overlap=queue)", ()
    if running:
        return False, f"run {running[0]} is still running (overlap=skip)", ()
    if queued:
        return False, f"run {queued[0]} is still queued (overlap=skip)", ()
    return True, None, ()
