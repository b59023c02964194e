"""A run's call in a process of its own (``isolation="process"``): the parent's side.

The child is started with ``multiprocessing``'s spawn (never a fork of this threaded process) and
imports the job's function by its path (`engine.child` is its side, and describes the messages).
One thread per call starts the child, puts what it reports into the run's RunContext (so progress
and log reach the run's record as for a job in a thread, and the log records go on to this
process's loggers), and waits for it to end.

`JobProcess.ended` resolves once the process is gone: with what the call came to, or, for a child
that died without saying (a segfault, ``os._exit``, the out-of-memory killer), a failure naming its
exit code or signal. `stop` gives the run up: the child's `ctx.cancelled` is set, it gets SIGTERM,
and SIGKILL `child.KILL_GRACE` seconds later if it is still there; `ended` is then cancelled (the
run was recorded when it was given up).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import signal
import threading
from collections.abc import Mapping
from dataclasses import replace
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from typing import TYPE_CHECKING, Any

from rota.engine import child
from rota.engine.context import RunContext
from rota.engine.isolation import check_isolable
from rota.engine.runs import Outcome
from rota.errors import SettingError
from rota.outcomes import Retry
from rota.store.records import RunStatus

if TYPE_CHECKING:
    from rota.engine.jobs import JobDefinition

__all__ = ["JobProcess", "died", "ended_how", "path_of"]

log = logging.getLogger("rota.engine")
_SPAWN = multiprocessing.get_context("spawn")


class JobProcess:
    """One call of a job in a child process (see the module docstring)."""

    def __init__(self, context: RunContext) -> None:
        self._loop = asyncio.get_running_loop()
        self.ended: asyncio.Future[Outcome] = self._loop.create_future()
        self._context = context
        self._lock = threading.Lock()  # `_process`, `_cancels`, `_stopping`, `_reaped`
        self._process: BaseProcess | None = None
        self._cancels: Connection | None = None
        self._stopping = False
        self._reaped = False

    @classmethod
    def start(
        cls, definition: JobDefinition, context: RunContext, args: Mapping[str, Any]
    ) -> JobProcess:
        """Call the job in a child process, from a thread of its own; a function that cannot
        be imported there ends the call at once, failed (and not retried), saying why."""
        job = cls(context)
        try:
            path = path_of(definition.function)
        except SettingError as error:
            job.ended.set_result(Outcome(RunStatus.FAILED, error=str(error), final=True))
            return job
        call = child.ChildCall(
            path,
            definition.is_async,
            definition.takes_ctx,
            replace(context.run, args=dict(context.run.args)),
            dict(args),
            logging.getLogger().getEffectiveLevel(),
        )
        name = f"rota-process-{context.run.id}"
        threading.Thread(target=job._watch, args=(call,), name=name, daemon=True).start()
        return job

    @property
    def pid(self) -> int | None:
        """The child's process id, once it has started."""
        process = self._process
        return None if process is None else process.pid

    def stop(self) -> None:
        """Give the run up: `ctx.cancelled`, SIGTERM, SIGKILL after the grace (see above)."""
        with self._lock:
            if self._stopping:
                return
            self._stopping = True
            process, cancels = self._process, self._cancels
            if process is None or cancels is None or self._reaped:
                return  # not started (and now never will be), or gone already
            with contextlib.suppress(OSError, ValueError):  # it ended meanwhile
                cancels.send("cancel")
            process.terminate()
        timer = threading.Timer(child.KILL_GRACE, self._kill)
        timer.daemon = True
        timer.start()

    def _kill(self) -> None:
        with self._lock:
            if self._process is not None and not self._reaped:
                self._process.kill()  # a no-op for a process already waited for

    # -- in the call's thread ---------------------------------------------------------------

    def _watch(self, call: child.ChildCall) -> None:
        outcome: Outcome | None = None
        exitcode: int | None = None
        try:
            outcome, exitcode = self._run(call)
        except BaseException as error:  # a bug in rota itself: the run must still end
            log.exception("rota failed while running run %s in a process", call.info.id)
            outcome = Outcome(RunStatus.FAILED, error=f"rota: {error!r}")
        self._finish(outcome, exitcode)

    def _run(self, call: child.ChildCall) -> tuple[Outcome | None, int | None]:
        receiver, sender = _SPAWN.Pipe(duplex=False)
        cancel_receiver, cancel_sender = _SPAWN.Pipe(duplex=False)
        process = _SPAWN.Process(
            target=child.main,
            args=(call, sender, cancel_receiver),
            name=f"rota-run-{call.info.id}",
        )
        try:
            with self._lock:
                if self._stopping:  # given up before it started: never call the job
                    return None, None
                try:
                    process.start()
                except Exception as error:  # out of processes or memory; args that do not pickle
                    failure = f"rota could not start the job's process: {error!r}"
                    return Outcome(RunStatus.FAILED, error=failure), None
                self._process, self._cancels = process, cancel_sender
            sender.close()  # the child holds these now: its end closes them
            cancel_receiver.close()
            outcome = self._receive(receiver, process)
            process.join()
            with self._lock:
                self._reaped = True
            return outcome or died(process.exitcode), process.exitcode
        finally:
            for connection in (receiver, sender, cancel_receiver, cancel_sender):
                connection.close()

    def _receive(self, receiver: Connection, process: BaseProcess) -> Outcome | None:
        """What the child reports, until it ends: its outcome, if it said."""
        outcome: Outcome | None = None
        while True:
            ready = wait([receiver, process.sentinel])
            # Once the process has ended, what it sent before is still in the pipe.
            if receiver not in ready and not receiver.poll(0):
                return outcome
            try:
                message = receiver.recv()
            except (EOFError, OSError):
                return outcome
            if message[0] == "end":
                outcome = outcome_from(message[1:])
            else:
                self._take(message)

    def _take(self, message: tuple[Any, ...]) -> None:
        if self._stopping:  # recorded already: the run's log and progress are final
            return
        try:
            if message[0] == "progress":
                self._context.progress(*message[1:])
            elif message[0] == "log":
                record = logging.makeLogRecord(message[1])
                self._context.capture(record)
                logger = logging.getLogger(record.name)
                if logger.isEnabledFor(record.levelno):
                    record.rota_captured = True  # in the run's log already
                    logger.handle(record)
        except Exception:  # the engine is stopping (its loop closed): nothing to keep
            log.debug("rota dropped a message of run %s", self._context.run.id, exc_info=True)

    def _finish(self, outcome: Outcome | None, exitcode: int | None) -> None:
        run = self._context.run

        def resolve() -> None:
            if self.ended.done():
                return
            if self._stopping or outcome is None:
                if exitcode is not None:
                    how = ended_how(exitcode)
                    log.info("run %s of %s: its process ended (%s)", run.id, run.job, how)
                self.ended.cancel()
            else:
                self.ended.set_result(outcome)

        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits any more
            self._loop.call_soon_threadsafe(resolve)


def path_of(function: Any) -> str:
    """The ``module:function`` path a child imports `function` by; SettingError if it has none,
    or if the path leads to another object (a decorator above ``@rota.job``)."""
    from rota.engine.jobs import load_target

    check_isolable(function)
    path = f"{function.__module__}:{function.__qualname__}"
    if load_target(path) is not function:
        raise SettingError(
            "isolation",
            "process",
            f"{path} imports as another object than the job's function (is it decorated "
            "after @rota.job?): the job's process would call that one",
        )
    return path


def outcome_from(fields: tuple[Any, ...]) -> Outcome:
    """The Outcome the child reported (`child._report`'s fields)."""
    status, note, error, traceback, retried = fields
    retry = None
    if retried is not None:
        attempts, after, backoff, max_delay = retried
        retry = Retry(attempts, after=after, backoff=backoff, max_delay=max_delay)
    return Outcome(RunStatus(status), note=note, error=error, traceback=traceback, retry=retry)


def ended_how(exitcode: int) -> str:
    """A process's end as a person reads it: ``killed by SIGSEGV``, ``exit code 3``."""
    if exitcode >= 0:
        return f"exit code {exitcode}"
    try:
        name = signal.Signals(-exitcode).name
    except ValueError:
        name = f"signal {-exitcode}"
    if -exitcode == signal.SIGKILL:
        return f"killed by {name} (as the out-of-memory killer does)"
    return f"killed by {name}"


def died(exitcode: int | None) -> Outcome:
    """A child that ended without saying what the call came to."""
    how = "no exit status" if exitcode is None else ended_how(exitcode)
    if exitcode is not None and exitcode > 0:  # Python's own errors end a process with 1
        how += " (its standard error may say why)"
    return Outcome(RunStatus.FAILED, error=f"the job's process ended before the job did: {how}")
