"""rota as the benchmarks use it: SQLite file in the temp dir, UTC, 10 workers, sync jobs."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from bench.common import Spec
from bench.targets import noop
from rota import Rota, RunRecord, Schedule, cron, every
from rota.engine.events import EventKind


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
    """Wait until `count` runs of jobs named `prefix`-* have finished (from the event bus, so the
    store is not polled), or `timeout` seconds; how many finished. Call right after start."""
    engine = rota.engine
    assert engine is not None, "start the engine first"
    subscription = engine.bus.subscribe(size=8 * count + 1000)
    finished = 0
    deadline = time.monotonic() + timeout
    try:
        while finished < count:
            # Take what is there without a timer; wait (with one) only when nothing is, so the
            # counting costs the engine's loop little (APScheduler's listener is a callback).
            event = subscription.get_nowait()
            if event is None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                try:
                    event = await asyncio.wait_for(subscription.get(), remaining)
                except TimeoutError:
                    break
            if event.kind is EventKind.RUN_FINISHED and (event.job or "").startswith(prefix):
                finished += 1
    finally:
        subscription.close()
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
