"""The built-in job that keeps run history bounded."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from typing import TYPE_CHECKING

from rota.engine.context import RunContext
from rota.engine.jobs import JobDefinition
from rota.engine.policies import CatchUp
from rota.engine.settings import JobSettings
from rota.schedules import Interval
from rota.store.records import JobKind, Retention

if TYPE_CHECKING:
    from rota.engine.core import Engine

__all__ = ["EVENTS_KEPT", "EVENTS_KEPT_FOR", "PRUNE_BATCH", "PRUNE_JOB", "prune_job"]

PRUNE_JOB = "rota-prune"
PRUNE_BATCH = 500
# Events are for followers that were away a while, not history: runs are the history.
EVENTS_KEPT_FOR = timedelta(days=7)
EVENTS_KEPT = 100_000


def prune_job(engine: Callable[[], Engine | None]) -> JobDefinition:
    """The ``rota-prune`` job: every 10 minutes, each job's history is cut to its retention,
    all jobs at once, in short batches so that the engine's own writes go on in between."""

    async def prune(ctx: RunContext) -> None:
        running = engine()
        if running is None:
            return
        basis = running.basis
        store, writer, now = basis.store, basis.writer, basis.clock.now()
        # A one-shot that has fired is finished: its history stays as it is, at no cost.
        names = [
            job.name
            for job in await writer.call(store.list_jobs)
            if job.next_fire_at is not None
            or job.defaults.get("schedule", {}).get("kind") != "once"
        ]
        retentions: dict[str, Retention] = {}
        for name in names:
            state = running.jobs.get(name)
            retentions[name] = Retention()
            if state is not None:
                retention = state.settings.retention
                retentions[name] = replace(retention, fast=state.settings.is_fast(now))
        # All jobs at once, a batch a transaction: one writer call per job did not keep up
        # with thousands of jobs (decision 0009).
        removed = 0
        while True:
            count = await writer.call(store.prune_runs, retentions, now, PRUNE_BATCH)
            removed += count
            ctx.progress(removed, note="runs removed")
            if count < PRUNE_BATCH:
                break
        events = 0
        while True:
            count = await writer.call(
                store.prune_events, now - EVENTS_KEPT_FOR, EVENTS_KEPT, PRUNE_BATCH
            )
            events += count
            if count < PRUNE_BATCH:
                break
        ctx.log.info("removed %d runs past their retention and %d old events", removed, events)

    settings = JobSettings(
        schedule=Interval("10m"),
        description="Delete run history past its retention",
        catch_up=CatchUp.NONE,
    )
    return JobDefinition.create(PRUNE_JOB, prune, settings, kind=JobKind.INTERNAL)
