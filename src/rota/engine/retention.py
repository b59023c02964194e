"""The built-in job that keeps run history bounded."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING

from rota.engine.context import RunContext
from rota.engine.jobs import JobDefinition
from rota.engine.policies import CatchUp
from rota.engine.settings import JobSettings
from rota.schedules import Interval
from rota.store.records import Retention

if TYPE_CHECKING:
    from rota.engine.core import Engine

__all__ = ["PRUNE_BATCH", "PRUNE_JOB", "prune_job"]

PRUNE_JOB = "rota-prune"
PRUNE_BATCH = 500


def prune_job(engine: Callable[[], Engine | None]) -> JobDefinition:
    """The ``rota-prune`` job: every 10 minutes, each job's history is cut to its retention,
    in short batches so that the engine's own writes go on in between."""

    async def prune(ctx: RunContext) -> None:
        running = engine()
        if running is None:
            return
        store, writer, now = running.store, running.writer, running.clock.now()
        names = [job.name for job in await writer.call(store.list_jobs)]
        removed = 0
        for index, name in enumerate(names, start=1):
            state = running.jobs.get(name)
            retention = Retention()
            if state is not None:
                retention = replace(state.settings.retention, fast=state.settings.is_fast(now))
            while True:
                count = await writer.call(store.prune, name, retention, now, PRUNE_BATCH)
                removed += count
                if count < PRUNE_BATCH:
                    break
            ctx.progress(index, len(names), name)
        ctx.log.info("removed %d runs past their retention", removed)

    settings = JobSettings(
        schedule=Interval("10m"),
        description="Delete run history past its retention",
        catch_up=CatchUp.NONE,
    )
    return JobDefinition.create(PRUNE_JOB, prune, settings, builtin=True)
