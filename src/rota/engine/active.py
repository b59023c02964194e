"""A run this node is running, as the worker holds it, and the writing of its progress: at
most once per `PROGRESS_INTERVAL`, the last change always written."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from rota.engine.basis import Basis
from rota.engine.context import RunContext
from rota.engine.runs import QueuedRun
from rota.engine.texts import NOTE_LIMIT, storable
from rota.store.operations import LEASE_LOST, Lease, Progress
from rota.store.records import RunStatus

__all__ = ["PROGRESS_INTERVAL", "ActiveRun", "write_progress"]

log = logging.getLogger("rota.engine")
PROGRESS_INTERVAL = timedelta(seconds=0.25)


@dataclass
class ActiveRun:
    run: QueuedRun
    context: RunContext
    started_at: datetime
    # Resolved by `stop_run`; a future, not an Event, so that waiting on it costs no task.
    stop: asyncio.Future[None] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )
    stop_status: RunStatus = RunStatus.CANCELLED
    stop_note: str | None = None
    task: asyncio.Task[None] | None = None
    progress_written: datetime | None = None
    progress_task: asyncio.Task[None] | None = None
    owner: Lease | None = None  # the lease it was claimed under: every write about it carries it


async def write_progress(
    basis: Basis,
    active: ActiveRun,
    is_running: Callable[[int], bool],
    lease_doubted: Callable[[], None],
) -> None:
    """Write `active`'s progress and log while they change and the run is running here."""
    # One task per run writes until nothing changed during a whole interval: a change that
    # comes while a write is in flight finds this task still running and leaves it to it.
    clock = basis.clock
    while True:
        if active.progress_written is not None:
            await clock.sleep_until(active.progress_written + PROGRESS_INTERVAL)
        if not active.context.dirty or not is_running(active.run.id):
            return
        active.progress_written = clock.now()
        (done, total, note), log_text = active.context.snapshot()
        try:
            progress = Progress(
                active.run.id,
                done,
                total,
                storable(note, NOTE_LIMIT),
                log=log_text,
                owner=active.owner,
            )
            (written,) = await basis.writer.apply([progress])
            if written is LEASE_LOST:
                log.warning(
                    "rota did not record the progress of run %s of %s: another node took "
                    "it when this node's lease ran out",
                    active.run.id,
                    active.run.job,
                )
                lease_doubted()
                return
        except Exception as error:  # progress is not worth waiting for: the next one will do
            basis.outage.failed("recording progress", error, clock.now())
            active.context.touch()
