"""How a run ended, recorded: its finish and its next attempt, written through an outage and
past a store that refuses some of its text (the outcome is never the part that is lost)."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from rota.engine.context import RunContext
from rota.engine.policies import RetryPolicy, retry_delay
from rota.engine.runs import Outcome, QueuedRun, retry_run
from rota.engine.texts import ERROR_LIMIT, NOTE_LIMIT, TRACEBACK_LIMIT, ascii_only, storable
from rota.store.operations import UNSET, Chain, Finish, NewRun, Operation
from rota.store.records import Reason, RunStatus

if TYPE_CHECKING:
    from rota.engine.basis import Basis
    from rota.engine.limiter import Limiters

__all__ = ["LEASE_GONE", "STOPPED", "attempt_after", "finish_of", "next_attempt", "record_end"]

log = logging.getLogger("rota.engine")

STOPPED = "rota stopped before the run finished"
LEASE_GONE = "its node lost its lease; another node recorded the run interrupted"
RETRIED = frozenset({RunStatus.FAILED, RunStatus.TIMED_OUT, RunStatus.INTERRUPTED})


def finish_of(run: QueuedRun, outcome: Outcome, context: RunContext, now: datetime) -> Finish:
    """The finish of a run as the store keeps it: outcome, progress and log, texts cleaned and
    cut to their limits."""
    (done, total, note), log_text = context.snapshot()
    # A dependency run's note names the upstream runs that triggered it: kept unless the
    # outcome has a note of its own.
    keep = outcome.note is None and run.reason is Reason.DEPENDENCY
    return Finish(
        run.id,
        outcome.status,
        now,
        note=UNSET if keep else storable(outcome.note, NOTE_LIMIT),
        error=storable(outcome.error, ERROR_LIMIT),
        traceback=storable(outcome.traceback, TRACEBACK_LIMIT),
        log=log_text,
        progress_done=done,
        progress_total=total,
        progress_note=storable(note, NOTE_LIMIT),
    )


def next_attempt(
    run: QueuedRun, policy: RetryPolicy, outcome: Outcome, now: datetime, deferred: int = 0
) -> NewRun | None:
    """The run's next attempt, if its outcome and the retry policy (or a `Retry` the job
    raised) call for one. A run that ended to wait for a limiter (decision 0012) starts again
    when its capacity comes back, whatever the policy; the `deferred` attempts of its lineage
    that did so are no failures: they count neither against the policy's attempts nor for
    its backoff."""
    if outcome.wait_until is not None:
        return retry_run(run, now, not_before=outcome.wait_until)
    if not _retried(outcome):
        return None
    asked = outcome.retry
    if asked is not None:
        policy = RetryPolicy(
            asked.attempts or max(policy.attempts, 3), asked.backoff, asked.max_delay
        )
    failures = max(run.attempt - deferred, 1)  # this attempt is one of them
    delay = retry_delay(policy, failures, random.random())
    if delay is None:
        return None
    if asked is not None and asked.after is not None:
        delay = asked.after
    return retry_run(run, now, not_before=now + delay)


async def attempt_after(
    limiters: Limiters | None, run: QueuedRun, policy: RetryPolicy, outcome: Outcome, now: datetime
) -> NewRun | None:
    """`next_attempt`, with the limiter deferrals of the run's lineage counted when they may
    matter: only for a failed attempt after the first, with limiters declared (one read of
    the store per earlier attempt, on that path alone)."""
    deferred = 0
    if (
        limiters is not None
        and run.attempt > 1
        and outcome.wait_until is None
        and _retried(outcome)
    ):
        deferred = await limiters.deferrals_in(run.id)
    return next_attempt(run, policy, outcome, now, deferred)


def _retried(outcome: Outcome) -> bool:
    """Whether the outcome is a failure the retry policy may retry."""
    if outcome.final or outcome.status not in RETRIED:
        return False
    # A stop is not the job's failure; a run whose lease was lost is retried by the node
    # that took it.
    return not (outcome.status is RunStatus.INTERRUPTED and outcome.note in (STOPPED, LEASE_GONE))


async def record_end(
    basis: Basis, run: QueuedRun, operations: Sequence[Operation], stopping: asyncio.Event
) -> list[Any]:
    """Record a run's end (its `Finish` first, with its `Chain` right after, if any) and its
    retry, if any; one result each. While the store cannot be reached, try again: a run's
    outcome is not given up because a database restarted. A chain is always written with its
    finish, in one transaction: the store counts a success only there (decision 0011)."""
    finish = operations[0]
    assert isinstance(finish, Finish)
    chain = [op for op in operations[1:2] if isinstance(op, Chain)]
    retry, what = list(operations[1 + len(chain) :]), f"recording the end of run {run.id}"
    keep = 1 + len(chain)
    try:
        results = await basis.persist(what, operations, stopping, keep=keep)
    except Exception:
        # The texts are clean for a UTF-8 store; one in another encoding may refuse some
        # characters: escape every non-ASCII one, which loses nothing.
        log.exception("rota failed %s; it tries again with its texts in ASCII", what)
        texts = ("note", "error", "traceback", "log", "progress_note")
        escaped = replace(finish, **{name: _ascii(getattr(finish, name)) for name in texts})
        try:
            # The retry, if any, follows below.
            results = await basis.persist(what, [escaped, *chain], stopping, keep=keep)
        except Exception as error:
            # Something else in the record the store refused: keep at least the outcome.
            log.exception("rota failed %s; it records the outcome alone", what)
            bare = Finish(
                finish.run_id,
                finish.status,
                finish.at,
                error=storable(f"rota could not record this run's details: {error}", ERROR_LIMIT),
                owner=finish.owner,
            )
            results = await basis.persist(what, [bare, *chain], stopping, keep=keep)
    if results is None:
        return [False] + [None] * (len(operations) - 1)
    if len(results) == len(operations):
        return results
    # The finish was written without its retry (an attempt broke, and may have committed
    # both; or the details were refused): the retry is created only once the finish is,
    # never twice.
    head = list(results[:keep]) + [None] * (keep - len(results[:keep]))
    if not results[0] or not retry:
        return head + [None] * len(retry)
    what = f"queueing the retry of run {run.id}"
    created = await basis.persist(what, retry, stopping)
    return [*head, None if not created else created[0]]


def _ascii(value: Any) -> Any:
    return ascii_only(value) if isinstance(value, str) else value
