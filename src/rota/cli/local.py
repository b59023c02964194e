"""The backend on the store itself: a `Rota` as a pure admin client (no engine here; a running
engine elsewhere hears the changes), or the app's own Rota when ``--app`` names it."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, Iterator, Sequence
from datetime import datetime
from typing import Any

from rota.app import Rota
from rota.cli.backend import Json
from rota.cli.shapes import event_json, job_json, limiter_json, run_json
from rota.schedules import parse
from rota.store.records import EventRecord, RunStatus

__all__ = ["LocalBackend"]


async def _next(stream: AsyncGenerator[EventRecord]) -> EventRecord | None:
    try:
        return await anext(stream)
    except StopAsyncIteration:
        return None


def _finish(loop: asyncio.AbstractEventLoop) -> None:
    """Close `loop` as `asyncio.run` does: an async generator the stream used inside is
    finalised by a task of its own, which must run before the loop closes (else asyncio warns
    "Task was destroyed but it is pending!" as the process ends)."""
    try:
        loop.run_until_complete(loop.shutdown_asyncgens())
        while pending := asyncio.all_tasks(loop):
            loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        loop.run_until_complete(loop.shutdown_default_executor())
    finally:
        loop.close()


class LocalBackend:
    """`Backend` over a `Rota`; `owned` means this backend made it and closes it."""

    def __init__(self, rota: Rota, *, owned: bool) -> None:
        from rota.store import _without_password

        self.rota = rota
        self.owned = owned
        self.where = _without_password(rota.database_url)

    def jobs(self, internal: bool) -> list[Json]:
        return [job_json(job) for job in self.rota.jobs(internal=internal)]

    def job(self, name: str) -> Json:
        return job_json(self.rota.job_info(name))

    def run_now(self, name: str, args: Json, at: datetime | None) -> Json:
        if at is None:
            run_id = self.rota.run_now(name, **args)
        else:
            run_id = self.rota.run_later(name, at, **args)
        return self._created(run_id)

    def _created(self, run_id: int) -> Json:
        run = self.rota.get_run(run_id)
        note = run.note if run.status is RunStatus.SKIPPED else None
        return {"id": run.id, "status": run.status.value, "note": note}

    def pause(self, name: str, note: str | None) -> Json:
        return job_json(self.rota.pause(name, note))

    def resume(self, name: str) -> Json:
        return job_json(self.rota.resume(name))

    def override(self, name: str, settings: Json) -> Json:
        given: dict[str, Any] = dict(settings)
        text = given.get("schedule")
        if self.owned and isinstance(text, str):
            # This Rota is not the app's and knows not its zone: a wall time is read in the
            # zone of the job's schedule, as the app would read it (else TZ, else UTC).
            zone = getattr(self.rota.job_info(name).schedule, "tz", None)
            given["schedule"] = parse(text, zone or self.rota.timezone)
        return job_json(self.rota.override(name, **given))

    def reset(self, name: str, settings: Sequence[str]) -> Json:
        return job_json(self.rota.reset(name, *settings))

    def remove(self, name: str) -> None:
        self.rota.remove_job(name)

    def runs(
        self,
        job: str | None,
        statuses: Sequence[str],
        reasons: Sequence[str],
        limit: int,
        before: int | None,
        parent: int | None = None,
    ) -> Json:
        page = self.rota.runs(
            job,
            list(statuses) or None,
            limit,
            before,
            reason=list(reasons) or None,
            parent_run_id=parent,
        )
        return {
            "items": [run_json(run) for run in page],
            "total": page.total,
            "next_cursor": page.next_before_id,
        }

    def run(self, run_id: int) -> Json:
        return run_json(self.rota.get_run(run_id), detail=True)

    def cancel(self, run_id: int) -> Json:
        return run_json(self.rota.cancel(run_id), detail=True)

    def limiters(self) -> list[Json]:
        return [limiter_json(info) for info in self.rota.limiters()]

    def retry(self, run_id: int) -> Json:
        created = self.rota.retry(run_id)
        run = self.rota.get_run(created)
        return {"id": run.id, "status": run.status.value, "note": None}

    def events(self, after: int | None) -> Iterator[Json]:
        loop = asyncio.new_event_loop()
        stream = self.rota.events(after)
        try:
            while True:
                step = loop.create_task(_next(stream))
                try:
                    event = loop.run_until_complete(step)
                except BaseException:
                    # Ctrl-C or a closed generator while a read waits: end that read first,
                    # then the stream (it may not be closed while it is being read).
                    step.cancel()
                    with contextlib.suppress(BaseException):
                        loop.run_until_complete(step)
                    raise
                if event is None:
                    return
                yield event_json(event)
        finally:
            with contextlib.suppress(RuntimeError):
                loop.run_until_complete(stream.aclose())
            _finish(loop)

    def close(self) -> None:
        if self.owned:
            self.rota.close()
