"""Spawned runs (decision 0012): ``ctx.spawn(job, key=..., **args)`` inside a job.

A spawn is checked at once (the job exists here, its function takes the arguments, they are
JSON, the key is short text) and buffered; the buffer is written in transactions of at most
`SPAWN_BATCH` runs: whenever that many wait, and when the spawning run ends (before its end is
recorded). So a run that spawns 5,000 tasks costs five transactions, not 5,000. A spawn whose key
a queued or running run of the same job has creates nothing.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from rota.engine.runs import QueuedRun
from rota.errors import SettingError, UnknownJobError
from rota.store.operations import Enqueue, NewRun
from rota.store.records import Reason

if TYPE_CHECKING:
    from rota.engine.basis import Basis
    from rota.engine.jobs import JobState
    from rota.engine.parameters import Parameters
    from rota.engine.settings import JobSettings

__all__ = ["KEY_LIMIT", "SPAWN_BATCH", "Spawns", "spawned_run"]

SPAWN_BATCH = 1000
"""The most spawned runs one transaction writes, and how many wait before a write starts."""
KEY_LIMIT = 200
"""The longest a spawn key may be, in characters."""


def spawned_run(
    name: str,
    parameters: Parameters,
    settings: JobSettings,
    key: object,
    args: Mapping[str, Any],
    parent: int | None,
    now: datetime,
) -> NewRun:
    """The run a spawn of job `name` creates, its arguments laid over the job's `args` as
    `run_now` does, checked against its `parameters`: SettingError naming what is wrong."""
    if key is not None and (not isinstance(key, str) or not 1 <= len(key) <= KEY_LIMIT):
        raise SettingError(
            "key", repr(key)[:60], f"a spawn key is text of 1-{KEY_LIMIT} characters, or None"
        )
    if not isinstance(args, Mapping):
        raise SettingError("args", repr(args)[:60], "give keyword arguments")
    merged = settings.with_values({"args": {**settings.args, **args}}).args
    parameters.check(name, merged)
    return NewRun(
        job=name,
        reason=Reason.SPAWNED,
        queued_at=now,
        args=merged,
        parent_run_id=parent,
        spawn_key=key,
    )


class Spawns:
    """Spawned runs waiting to be written, by the run that spawned them (for every run on
    this node). Thread-safe: sync jobs spawn from their threads."""

    def __init__(
        self,
        basis: Basis,
        jobs: Mapping[str, JobState],
        take: Callable[[QueuedRun], object],
    ) -> None:
        self.basis = basis
        self.jobs = jobs
        self._take = take  # hands a created run to the worker
        self._lock = threading.Lock()
        self._waiting: dict[int, list[NewRun]] = {}
        self._writing: dict[int, asyncio.Task[None]] = {}
        self._loop = asyncio.get_running_loop()
        self.stopping = asyncio.Event()  # set when the node stops: an outage is not waited out
        self.transactions = 0  # how many transactions wrote spawns (for tests)

    def add(self, parent: int, name: str, key: str | None, args: Mapping[str, Any]) -> None:
        """Check and buffer a spawn of run `parent` (see the module docstring)."""
        if not isinstance(name, str):
            raise SettingError("job", repr(name)[:60], "give the name of a job to spawn")
        state = self.jobs.get(name)
        if state is None:
            raise UnknownJobError(name)
        now = self.basis.clock.now()
        run = spawned_run(
            state.definition.name,
            state.definition.parameters,
            state.settings,
            key,
            args,
            parent,
            now,
        )
        with self._lock:
            waiting = self._waiting.setdefault(parent, [])
            waiting.append(run)
            full = len(waiting) >= SPAWN_BATCH
        if full:
            self._loop.call_soon_threadsafe(self._write_soon, parent)

    def _write_soon(self, parent: int) -> None:
        writing = self._writing.get(parent)
        if writing is None or writing.done():
            self._writing[parent] = asyncio.create_task(
                self._write(parent, whole_batches=True), name=f"rota-spawns-{parent}"
            )

    async def flush(self, parent: int) -> None:
        """Write every spawn of run `parent` that waits (its run ends)."""
        writing = self._writing.pop(parent, None)
        if writing is not None:
            await asyncio.gather(writing, return_exceptions=True)
        await self._write(parent, whole_batches=False)
        with self._lock:
            self._waiting.pop(parent, None)

    async def _write(self, parent: int, *, whole_batches: bool) -> None:
        while True:
            with self._lock:
                waiting = self._waiting.get(parent, [])
                if not waiting or (whole_batches and len(waiting) < SPAWN_BATCH):
                    return
                batch = waiting[:SPAWN_BATCH]
                del waiting[:SPAWN_BATCH]
            what = f"writing {len(batch)} runs spawned by run {parent}"
            self.transactions += 1
            results = (
                await self.basis.persist(what, [Enqueue(run) for run in batch], self.stopping) or []
            )
            # A broken attempt is tried again with its first operation only: the rest wait
            # for the next write.
            if len(results) < len(batch):
                with self._lock:
                    self._waiting.setdefault(parent, [])[:0] = batch[len(results) :]
                if self.stopping.is_set():
                    return
            for run, created in zip(batch, results, strict=False):
                if isinstance(created, int):
                    self._take(QueuedRun.of(created, run))
