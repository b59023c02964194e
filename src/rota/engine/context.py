"""What a running job sees: `ctx.progress`, `ctx.log`, `ctx.cancelled`, `ctx.run`.

Log capture: `ctx.log` records always go to the run's log (its end: `texts.LOG_LIMIT`), and on to
the ``rota.jobs.<name>`` logger as usual. Records of the job's own `logging` calls that reach the
root logger's handlers are captured too: a handler on the root logger looks up the run of the
current context (a context variable, copied into the worker thread for sync jobs).
"""

from __future__ import annotations

import logging
import math
import numbers
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, MutableMapping
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any

from rota.engine.texts import LOG_LIMIT, storable
from rota.errors import RotaError, SettingError
from rota.store.records import Reason

if TYPE_CHECKING:
    from rota.engine.limiter import Limiters
    from rota.engine.spawning import Spawns

__all__ = ["LOG_LINES", "Acquisition", "RecordCapture", "RunContext", "RunInfo", "current_run"]

LOG_LINES = LOG_LIMIT.lines
current_run: ContextVar[RunContext | None] = ContextVar("rota_current_run", default=None)
_FORMAT = logging.Formatter(
    "%(asctime)s.%(msecs)03dZ %(levelname)s %(name)s: %(message)s", datefmt="%Y-%m-%dT%H:%M:%S"
)
_FORMAT.converter = time.gmtime


@dataclass(frozen=True)
class RunInfo:
    """Which run this is."""

    id: int
    job: str
    reason: Reason
    fire_time: datetime | None
    attempt: int
    args: Mapping[str, Any]


class _RunLogger(logging.LoggerAdapter[logging.Logger]):
    """A logger whose records always land in the run's log, and go on to the job's logger."""

    def __init__(self, logger: logging.Logger, context: RunContext) -> None:
        super().__init__(logger, {})
        self._context = context

    def log(self, level: int, msg: object, *args: Any, **kwargs: Any) -> None:
        exc_info = kwargs.get("exc_info")
        token = _by_ctx_log.set(True)
        try:
            record = self.logger.makeRecord(
                self.logger.name, level, "(job)", 0, msg, args, _exc_info(exc_info)
            )
            self._context.capture(record)
            if self.logger.isEnabledFor(level):
                extra = dict(kwargs.pop("extra", None) or {})
                extra["rota_captured"] = True
                self.logger.log(level, msg, *args, extra=extra, **kwargs)
        finally:
            _by_ctx_log.reset(token)

    def process(self, msg: Any, kwargs: MutableMapping[str, Any]) -> tuple[Any, Any]:
        return msg, kwargs


def _exc_info(value: object) -> Any:
    if value is True:
        import sys

        return sys.exc_info()
    if isinstance(value, BaseException):
        return (type(value), value, value.__traceback__)
    return value or None


class RunContext:
    """Handed to a job that takes a ``ctx`` parameter. Safe to use from the job's thread."""

    def __init__(
        self,
        run: RunInfo,
        on_change: Callable[[], None],
        *,
        limiters: Limiters | None = None,
        spawns: Spawns | None = None,
    ) -> None:
        self.run = run
        self._limiters = limiters
        self._spawns = spawns
        self._on_cancel: list[Callable[[], None]] = []
        self._log: logging.LoggerAdapter[logging.Logger] | None = None
        self._on_change = on_change
        self._lock = threading.Lock()
        self._lines: deque[str] = deque(maxlen=LOG_LINES)
        self._cut_lines = 0  # dropped from the start of `_lines`, and their size
        self._cut_bytes = 0
        self._cancelled = threading.Event()
        self._progress: tuple[float | None, float | None, str | None] = (None, None, None)
        self._dirty = False

    @property
    def log(self) -> logging.LoggerAdapter[logging.Logger]:
        """A logger for this run: its records land in the run's log and in
        ``rota.jobs.<name>``."""
        if self._log is None:
            self._log = _RunLogger(logging.getLogger(f"rota.jobs.{self.run.job}"), self)
        return self._log

    @property
    def cancelled(self) -> bool:
        """True once the run is cancelled or has timed out: a sync job should stop soon."""
        return self._cancelled.is_set()

    def progress(self, done: float, total: float | None = None, note: str | None = None) -> None:
        """Report progress: `done` of `total` (if known), with a note such as the current item.

        Cheap to call often: the store sees it at most a few times a second. `done` and
        `total` are real numbers (not bools), finite; `note` is text: anything else raises
        `SettingError` (a ValueError) naming the parameter, and the progress stays as it was.
        """
        progress = (
            _amount(done, "done"),
            None if total is None else _amount(total, "total"),
            _note(note),
        )
        with self._lock:
            self._progress = progress
            was_dirty, self._dirty = self._dirty, True
        if not was_dirty:
            self._on_change()

    def limit(self, name: str, cost: int = 1) -> Acquisition:
        """``with ctx.limit("tmdb"):`` (sync job) or ``async with ctx.limit("tmdb"):`` (async
        job): one acquisition of `cost` tokens of a declared limiter, waiting for capacity
        (see docs/jobs.md, "Rate limiters"). The tokens are spent on entry, not given back
        on exit; ``as`` gives the instant they were spent at. SettingError for an undeclared
        name or a cost above the capacity."""
        if self._limiters is None:
            raise RotaError(
                "ctx.limit is not available in this run (a job with isolation='process' "
                "runs without the engine's limiters)"
            )
        self._limiters.spec(name, cost)
        return Acquisition(self, self._limiters, name, cost)

    def spawn(self, job: str, /, key: str | None = None, **args: Any) -> None:
        """Queue a one-off run of `job` with keyword arguments (JSON values), reason
        ``spawned``, linked to this run; none if a queued or running run of `job` has the
        same `key`. Checked at once (SettingError names a bad parameter); written in batches,
        at the latest when this run ends (see docs/jobs.md, "Spawned tasks")."""
        if self._spawns is None:
            raise RotaError(
                "ctx.spawn is not available in this run (a job with isolation='process' "
                "runs without the engine's spawner)"
            )
        if self.cancelled:  # its spawns were written when it was given up
            raise RotaError(f"run {self.run.id} was cancelled or timed out: it spawns no more runs")
        self._spawns.add(self.run.id, job, key, args)

    def on_cancel(self, callback: Callable[[], None]) -> Callable[[], None]:
        """Call `callback` (once) when the run is cancelled or times out (at once if it is
        already); returns a function that stops that."""
        with self._lock:
            cancelled = self._cancelled.is_set()
            if not cancelled:
                self._on_cancel.append(callback)
        if cancelled:
            callback()

        def remove() -> None:
            with self._lock:
                if callback in self._on_cancel:
                    self._on_cancel.remove(callback)

        return remove

    # -- for the engine ---------------------------------------------------------------------

    def capture(self, record: logging.LogRecord) -> None:
        """For the engine: add a log record to the run's log."""
        line = _FORMAT.format(record)
        with self._lock:
            for part in line.splitlines() or [""]:
                if len(self._lines) == LOG_LINES:
                    self._cut_lines += 1
                    self._cut_bytes += len(self._lines[0].encode(errors="surrogatepass")) + 1
                self._lines.append(part)
            was_dirty, self._dirty = self._dirty, True
        if not was_dirty:
            self._on_change()

    def cancel(self) -> None:
        """For the engine: tell the job it should stop (`cancelled` becomes true), and end
        its waits (`on_cancel`)."""
        with self._lock:
            self._cancelled.set()
            callbacks, self._on_cancel = self._on_cancel, []
        for callback in callbacks:
            callback()

    def snapshot(self) -> tuple[tuple[float | None, float | None, str | None], str]:
        """For the engine: the current progress and log text, as the store keeps them
        (`texts.storable`); clears the changed flag, so the next change calls `on_change`
        again (once, however many changes follow before the next snapshot)."""
        with self._lock:
            self._dirty = False
            progress, lines = self._progress, list(self._lines)
            cut_lines, cut_bytes = self._cut_lines, self._cut_bytes
        log = storable("\n".join(lines), LOG_LIMIT, cut_lines, cut_bytes) or ""
        return progress, log

    def touch(self) -> None:
        """For the engine: mark progress and log changed again (a write of them failed)."""
        with self._lock:
            self._dirty = True

    @property
    def dirty(self) -> bool:
        """For the engine: whether progress or log changed since the last snapshot."""
        return self._dirty


class Acquisition:
    """What `RunContext.limit` returns: a sync and an async context manager."""

    def __init__(self, context: RunContext, limiters: Limiters, name: str, cost: int) -> None:
        self._context = context
        self._limiters = limiters
        self._name = name
        self._cost = cost

    def __enter__(self) -> datetime:
        """Wait for the tokens and spend them; the instant they were spent at."""
        context = self._context
        return self._limiters.acquire_sync(
            self._name, self._cost, context.on_cancel, context.run.id
        )

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Nothing: the tokens were spent on entry."""

    async def __aenter__(self) -> datetime:
        """Wait for the tokens and spend them; the instant they were spent at."""
        return await self._limiters.acquire(self._name, self._cost, self._context.run.id)

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Nothing: the tokens were spent on entry."""


def _amount(value: object, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        shown = _shown(value)
        raise SettingError(f"progress {name}", shown, f"{shown} is not a number")
    try:
        amount = float(value)
    except OverflowError:  # an int too large for a float
        amount = math.inf
    if not math.isfinite(amount):
        shown = _shown(value)
        raise SettingError(f"progress {name}", shown, f"{shown} is not a finite number")
    return amount


def _note(value: object) -> str | None:
    if value is not None and not isinstance(value, str):
        shown = _shown(value)
        raise SettingError("progress note", shown, f"{shown} is not text")
    return value


def _shown(value: object) -> str:
    """A value as an error names it: its repr, shortened."""
    try:
        text = repr(value)
    except Exception:  # an int past Python's digit limit, a repr that fails
        text = f"<{type(value).__name__}>"
    return text if len(text) <= 60 else f"{text[:50]}...({len(text):,} characters)"


class RecordCapture:
    """Copies every log record made inside a run into that run's log, from the moment it is
    made (the log record factory), for as long as an engine of this process runs.

    Not a handler on the root logger: one there switches off Python's last-resort handler (an
    app that never configured logging would lose every warning, rota's own too) and makes
    frameworks such as Flask and werkzeug think logging is set up, so they add no handlers.
    """

    _lock = threading.Lock()
    _users = 0
    _previous: Callable[..., logging.LogRecord] | None = None

    @classmethod
    def start(cls) -> None:
        """An engine starts: capture (once, however many engines run)."""
        with cls._lock:
            cls._users += 1
            if cls._users == 1 and logging.getLogRecordFactory() is not _make_record:
                cls._previous = logging.getLogRecordFactory()
                logging.setLogRecordFactory(_make_record)

    @classmethod
    def stop(cls) -> None:
        """An engine stopped: the last one puts the factory back, unless another library
        replaced it meanwhile (then ours stays, and passes records on unchanged)."""
        with cls._lock:
            cls._users = max(cls._users - 1, 0)
            if cls._users == 0 and logging.getLogRecordFactory() is _make_record:
                logging.setLogRecordFactory(cls._previous or logging.LogRecord)


def _make_record(*args: Any, **kwargs: Any) -> logging.LogRecord:
    record = (RecordCapture._previous or logging.LogRecord)(*args, **kwargs)
    context = current_run.get()
    if context is not None and RecordCapture._users and not _by_ctx_log.get():
        context.capture(record)
    return record


# Set while `ctx.log` makes and passes on its records: it captures them itself, at any level.
_by_ctx_log: ContextVar[bool] = ContextVar("rota_by_ctx_log", default=False)
