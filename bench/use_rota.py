"""rota as the benchmarks use it: SQLite file in the temp dir, UTC, 10 workers, sync jobs."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

from bench.common import Spec
from bench.targets import noop
from rota import EventKind, Rota, RunRecord, Schedule, cron, every


def make_rota(tmp: Path) -> Rota:
    """The settings every workload uses."""
    return Rota(f"sqlite:///{tmp}/rota.db", timezone="UTC", workers=10)


def schedule_of(spec: Spec) -> Schedule:
    """The rota spelling of an idle schedule."""
    if spec.kind == "cron":
        return cron(f"{spec.minute} {spec.hour} * * *")
    return every(seconds=spec.seconds, anchor=spec.anchor)


def register_idle(rota: Rota, specs: list[Spec], prefix: str = "idle") -> None:
    """One no-op job per spec (registration only: the store sees them when the engine starts)."""
    for i, spec in enumerate(specs):
        rota.job(f"{prefix}-{i}", schedule=schedule_of(spec))(noop)


async def wait_finished(rota: Rota, prefix: str, count: int, timeout: float) -> int:
    """Wait until `count` runs of jobs named `prefix`-* have finished, or `timeout` seconds;
    how many finished. It follows the store's events from where they were at the call, as an
    app's event follower would (`rota.events`); call right after start."""
    finished = 0

    async def follow() -> None:
        nonlocal finished
        async for event in rota.events(after=start):
            if event.kind is EventKind.RUN_FINISHED and (event.job or "").startswith(prefix):
                finished += 1
                if finished >= count:
                    return

    start = await asyncio.to_thread(rota.store.last_event_id)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(follow(), timeout)
    return finished


async def all_runs(rota: Rota, prefix: str) -> list[RunRecord]:
    """Every run in the store of jobs named `prefix`-*, read page by page."""
    found: list[RunRecord] = []
    before: int | None = None
    while True:
        page = await asyncio.to_thread(rota.runs, None, None, 10_000, before)
        if not page:
            return found
        found.extend(run for run in page if run.job.startswith(prefix))
        before = page[-1].id
