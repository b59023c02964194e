"""Inside the process of a process-isolated run: import the job, call it, report back.

`main` is what `engine.process` starts (``multiprocessing``'s spawn). The job gets a `ChildContext`,
a RunContext whose progress and log records go over a pipe to the parent, where they land in the
run's real RunContext; records of the job's own `logging` calls travel the same way. The child
ends with one message saying what the call came to, then exits at once (``os._exit``: a thread the
job left running cannot keep the process, and so its memory, alive).

Messages, child to parent (tuples, pickled), in the order they were made:

    ("progress", done, total, note)
    ("log", fields)                a LogRecord's ``__dict__``, its message and traceback as text
    ("end", status, note, error, traceback, retry)
                                   retry: None, or (attempts, after, backoff, max_delay)

Parent to child: any message sets `cancelled`; the pipe's end (the parent is gone) sets it too,
and the child then stops itself as the parent would have (SIGTERM, SIGKILL after the grace).
SIGTERM raises `Terminated` in the job, so that its ``finally`` blocks run; SIGINT is ignored (a
Ctrl-C in a terminal reaches the whole process group: the parent decides what the run does).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import queue
import signal
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from multiprocessing.connection import Connection
from types import FrameType
from typing import Any

from rota.engine.context import RunContext, RunInfo, current_run
from rota.engine.runs import Outcome, call_async_job, outcome_of_raised
from rota.store.records import RunStatus

__all__ = ["KILL_GRACE", "ChildCall", "ChildContext", "Terminated", "main"]

# Real seconds between SIGTERM and SIGKILL, for a job's process that does not end on SIGTERM.
KILL_GRACE = 3.0

_PROGRESS = ("progress",)  # in the outbox: send the progress as it is by then
_CLOSE = ("close",)
_TRACEBACKS = logging.Formatter()


@dataclass(frozen=True)
class ChildCall:
    """What the child needs to call the job: the function's path, how to call it, the run."""

    path: str
    is_async: bool
    takes_ctx: bool
    info: RunInfo
    args: Mapping[str, Any]
    log_level: int  # the parent's root logger level: the child's records are filtered alike


class Terminated(BaseException):
    """Raised in a process-isolated job by SIGTERM (a BaseException, so that ``except
    Exception`` does not hold the job back)."""


class _Outbox:
    """Sends messages to the parent from one thread, in order; progress is sent as it is when
    its turn comes, so that many calls in a row cost one message."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection
        self._queue: queue.SimpleQueue[tuple[Any, ...]] = queue.SimpleQueue()
        self._context: RunContext | None = None
        self._thread = threading.Thread(target=self._send_all, name="rota-outbox", daemon=True)
        self._thread.start()

    def put(self, message: tuple[Any, ...]) -> None:
        self._queue.put(message)

    def close(self, timeout: float) -> None:
        """Send what is queued (within `timeout` seconds), then stop."""
        self._queue.put(_CLOSE)
        self._thread.join(timeout)

    def _send_all(self) -> None:
        while (message := self._queue.get()) is not _CLOSE:
            if message is _PROGRESS and self._context is not None:
                progress, _ = self._context.snapshot()
                message = ("progress", *progress)
            try:
                self._connection.send(message)
            except (OSError, ValueError):  # the parent is gone: nobody reads any more
                return


class ChildContext(RunContext):
    """The ``ctx`` of a process-isolated job: a RunContext whose progress and log records go to
    the parent, where they reach the run's record as for a job in a thread."""

    def __init__(self, run: RunInfo, outbox: _Outbox) -> None:
        super().__init__(run, lambda: outbox.put(_PROGRESS))
        self._outbox = outbox
        outbox._context = self

    def capture(self, record: logging.LogRecord) -> None:
        """Send the record to the parent (the run's log there keeps it)."""
        self._outbox.put(("log", portable(record)))


class _Forward(logging.Handler):
    """On the child's root logger: sends the job's own `logging` records to the parent."""

    def __init__(self, outbox: _Outbox) -> None:
        super().__init__()
        self._outbox = outbox

    def emit(self, record: logging.LogRecord) -> None:
        if getattr(record, "rota_captured", False):  # `ctx.log` sent it already
            return
        try:
            self._outbox.put(("log", portable(record)))
        except Exception:
            self.handleError(record)


def portable(record: logging.LogRecord) -> dict[str, Any]:
    """A record as plain values (``logging.makeLogRecord`` makes it again): the message and the
    traceback as text, anything else that is no plain value as its repr."""
    if record.exc_info and not record.exc_text:
        record.exc_text = _TRACEBACKS.formatException(record.exc_info)
    fields = dict(record.__dict__)
    fields.update(msg=record.getMessage(), args=None, exc_info=None)
    fields.pop("message", None)
    return {
        key: value if value is None or isinstance(value, str | int | float) else repr(value)
        for key, value in fields.items()
    }


def main(call: ChildCall, messages: Connection, cancels: Connection) -> None:
    """The child process: call the job, send what it came to, exit."""
    terminated = threading.Event()
    outbox = _Outbox(messages)
    context = ChildContext(call.info, outbox)

    def on_sigterm(signum: int, frame: FrameType | None) -> None:
        # The parent's "cancel" may still be in the pipe: the job's cleanup sees it anyway.
        context.cancel()
        terminated.set()
        raise Terminated

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, on_sigterm)
    root = logging.getLogger()
    root.handlers[:] = [_Forward(outbox)]  # before the job's module is imported
    root.setLevel(call.log_level)
    threading.Thread(
        target=_follow_parent, args=(cancels, context), name="rota-parent", daemon=True
    ).start()
    try:
        outcome = _call(call, context)
        if not terminated.is_set():
            outbox.put(("end", *_report(outcome)))
            outbox.close(timeout=10)
    except Terminated:
        pass
    if terminated.is_set():  # end as SIGTERM ends a process, so that the parent sees it
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTERM)
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):  # a closed or broken stream: nothing to keep
            stream.flush()
    os._exit(0)


def _call(call: ChildCall, context: ChildContext) -> Outcome:
    from rota.engine.jobs import load_target  # jobs imports settings, which imports the engine

    current_run.set(context)
    try:
        function = load_target(call.path)
        arguments = (context,) if call.takes_ctx else ()
        if call.is_async:
            asyncio.run(call_async_job(function, *arguments, **call.args))
        else:
            function(*arguments, **call.args)
    except BaseException as error:  # the job's outcome, whatever it raised
        return outcome_of_raised(error)
    return Outcome(RunStatus.SUCCEEDED)


def _report(outcome: Outcome) -> tuple[Any, ...]:
    retry = outcome.retry
    retried = None
    if retry is not None:
        retried = (retry.attempts, retry.after, retry.backoff, retry.max_delay)
    return (outcome.status.value, outcome.note, outcome.error, outcome.traceback, retried)


def _follow_parent(cancels: Connection, context: ChildContext) -> None:
    """Set `cancelled` when the parent says so; stop the process if the parent is gone."""
    try:
        cancels.recv()
    except (EOFError, OSError):
        context.cancel()
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(KILL_GRACE)
        os.kill(os.getpid(), signal.SIGKILL)
    else:
        context.cancel()
