"""A run as the worker handles it: queued, what its call came to, and what is recorded of it."""

from __future__ import annotations

import asyncio
import logging
import traceback
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from rota.engine.limiter import LimiterWait
from rota.errors import SettingError
from rota.outcomes import Retry, Skip
from rota.store.operations import NewRun
from rota.store.records import Reason, RunRecord, RunStatus

if TYPE_CHECKING:
    from rota.engine.context import RunContext
    from rota.engine.jobs import JobState

__all__ = [
    "GIVEN_UP",
    "JobRaised",
    "Outcome",
    "QueuedRun",
    "call_async_job",
    "late_result",
    "outcome_of",
    "outcome_of_raised",
    "retry_run",
    "unfit_arguments",
    "unless_given_up",
]

log = logging.getLogger("rota.engine")


@dataclass(order=True)
class QueuedRun:
    """A queued run as the worker holds it, ordered by fire time (else queue time), then id."""

    order: tuple[datetime, int]
    id: int = field(compare=False)
    job: str = field(compare=False)
    reason: Reason = field(compare=False)
    fire_time: datetime | None = field(compare=False)
    attempt: int = field(compare=False)
    args: Mapping[str, Any] = field(compare=False)
    not_before: datetime | None = field(compare=False)
    parent_run_id: int | None = field(default=None, compare=False)
    spawn_key: str | None = field(default=None, compare=False)

    @classmethod
    def of_record(cls, run: RunRecord) -> QueuedRun:
        """From a queued run read back from the store."""
        return cls(
            (run.fire_time or run.queued_at, run.id),
            run.id,
            run.job,
            run.reason,
            run.fire_time,
            run.attempt,
            run.args,
            run.not_before,
            run.parent_run_id,
            run.spawn_key,
        )

    @classmethod
    def of(cls, run_id: int, new: NewRun) -> QueuedRun:
        """From a NewRun the store just created as `run_id`."""
        return cls(
            (new.fire_time or new.queued_at, run_id),
            run_id,
            new.job,
            new.reason,
            new.fire_time,
            new.attempt,
            dict(new.args),
            new.not_before,
            new.parent_run_id,
            new.spawn_key,
        )


@dataclass
class Outcome:
    """What a run's call came to, as it is recorded."""

    status: RunStatus
    note: str | None = None
    error: str | None = None
    traceback: str | None = None
    retry: Retry | None = None  # a retry the job asked for
    final: bool = False  # no attempt would do better (its arguments do not fit the job)
    wait_until: datetime | None = None  # a limiter's capacity comes back then: retry then


def retry_run(
    of: QueuedRun | RunRecord, now: datetime, not_before: datetime | None = None
) -> NewRun:
    """The next attempt of a run: same job, fire time and arguments, reason retry; a spawned
    run's retry keeps its parent and key (the key stays taken while it is queued)."""
    return NewRun(
        job=of.job,
        reason=Reason.RETRY,
        queued_at=now,
        fire_time=of.fire_time,
        not_before=not_before,
        attempt=of.attempt + 1,
        args=of.args,
        retry_of=of.id,
        parent_run_id=of.parent_run_id,
        spawn_key=of.spawn_key,
    )


class JobRaised(Exception):
    """Carries what an async job raised that is no `Exception` (SystemExit, KeyboardInterrupt):
    asyncio re-raises those out of the event loop, which would end the engine. Carried as an
    ordinary exception, it stays the outcome of the run that raised it."""

    def __init__(self, error: BaseException) -> None:
        super().__init__(f"{type(error).__name__}: {error}")
        self.error = error


async def call_async_job(
    function: Callable[..., Coroutine[Any, Any, Any]], *args: Any, **kwargs: Any
) -> Any:
    """Call an async job and await it. The call itself is inside, so that arguments the job
    does not take fail the run as the job's error, not as rota's."""
    try:
        return await function(*args, **kwargs)
    except (Exception, asyncio.CancelledError):
        raise
    except BaseException as error:
        raise JobRaised(error) from None


def outcome_of(job: asyncio.Future[Any]) -> Outcome:
    """What a finished call came to: its result, or what it raised."""
    try:
        job.result()
    except BaseException as error:
        return outcome_of_raised(error)
    return Outcome(RunStatus.SUCCEEDED)


def outcome_of_raised(error: BaseException) -> Outcome:
    """What a call that raised `error` came to (in this process, or in a job's own process)."""
    if isinstance(error, JobRaised):
        return _failed(error.error)
    if isinstance(error, Skip):
        return Outcome(RunStatus.SKIPPED, note=error.reason)
    if isinstance(error, LimiterWait):
        if error.exhausted:  # deferred too often in a row: no attempt would do better
            return Outcome(RunStatus.FAILED, error=error.note, final=True)
        return Outcome(RunStatus.SKIPPED, note=error.note, wait_until=error.until)
    if isinstance(error, Retry):
        return Outcome(RunStatus.FAILED, error=str(error), retry=error)
    if isinstance(error, asyncio.CancelledError):
        return Outcome(RunStatus.CANCELLED, note="the job was cancelled from inside")
    return _failed(error)


def _failed(error: BaseException) -> Outcome:
    return Outcome(
        RunStatus.FAILED,
        error=f"{type(error).__name__}: {error}",
        traceback="".join(traceback.format_exception(error)),
    )


# What a sync job's call returns when it was never made: the run was given up first.
GIVEN_UP = object()


def late_result(run_id: int, job: str, future: asyncio.Future[Any]) -> None:
    """A run given up on (timed out, cancelled) finished after all: say so, keep nothing."""
    if future.cancelled():
        return
    error = future.exception()
    if isinstance(error, JobRaised):
        error = error.error
    if error is None and future.result() is GIVEN_UP:
        log.info(
            "run %s of %s was given up before a thread took it; it was never called", run_id, job
        )
    elif error is None:
        log.info("run %s of %s finished after it was given up; its result is ignored", run_id, job)
    else:
        log.info("run %s of %s failed after it was given up: %r", run_id, job, error)


def unfit_arguments(state: JobState, run: QueuedRun) -> Outcome | None:
    """A run whose arguments the job cannot take (asked for by a process without the job's
    code, or by older code): failed, naming the parameter, and not retried."""
    try:
        state.definition.check_arguments(run.args)
    except SettingError as error:
        return Outcome(RunStatus.FAILED, error=str(error), final=True)
    return None


def unless_given_up(context: RunContext, call: Callable[[], Any]) -> Any:
    """A sync job's call, in its thread: not made if the run was given up (timed out,
    cancelled, stopped) while it waited for the thread."""
    if context.cancelled:
        return GIVEN_UP
    return call()
