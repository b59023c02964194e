"""What a running job sees: `ctx.progress`, `ctx.log`, `ctx.cancelled`, `ctx.run`.

Log capture: `ctx.log` records always go to the run's log (the last 1,000 lines), and on to the
``rota.jobs.<name>`` logger as usual. Records of the job's own `logging` calls that reach the root
logger's handlers are captured too: a handler on the root logger looks up the run of the current
context (a context variable, copied into the worker thread for sync jobs).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, MutableMapping
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from rota.store.records import Reason

__all__ = ["LOG_LINES", "CaptureHandler", "RunContext", "RunInfo", "current_run"]

LOG_LINES = 1000
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
        record = self.logger.makeRecord(
            self.logger.name, level, "(job)", 0, msg, args, _exc_info(exc_info)
        )
        self._context.capture(record)
        if self.logger.isEnabledFor(level):
            extra = dict(kwargs.pop("extra", None) or {})
            extra["rota_captured"] = True
            self.logger.log(level, msg, *args, extra=extra, **kwargs)

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

    def __init__(self, run: RunInfo, on_change: Callable[[], None]) -> None:
        self.run = run
        self._log: logging.LoggerAdapter[logging.Logger] | None = None
        self._on_change = on_change
        self._lock = threading.Lock()
        self._lines: deque[str] = deque(maxlen=LOG_LINES)
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

        Cheap to call often: the store sees it at most a few times a second.
        """
        with self._lock:
            self._progress = (float(done), None if total is None else float(total), note)
            was_dirty, self._dirty = self._dirty, True
        if not was_dirty:
            self._on_change()

    # -- for the engine ---------------------------------------------------------------------

    def capture(self, record: logging.LogRecord) -> None:
        """Add a log record to the run's log."""
        line = _FORMAT.format(record)
        with self._lock:
            self._lines.extend(line.splitlines() or [""])
            was_dirty, self._dirty = self._dirty, True
        if not was_dirty:
            self._on_change()

    def cancel(self) -> None:
        """Tell the job it should stop."""
        self._cancelled.set()

    def snapshot(self) -> tuple[tuple[float | None, float | None, str | None], str]:
        """The current progress and log text; clears the changed flag, so the next change
        calls `on_change` again (once, however many changes follow before the next snapshot)."""
        with self._lock:
            self._dirty = False
            return self._progress, "\n".join(self._lines)

    def touch(self) -> None:
        """Mark progress and log changed again (a write of them failed)."""
        with self._lock:
            self._dirty = True

    @property
    def dirty(self) -> bool:
        """Whether progress or log changed since the last snapshot."""
        return self._dirty


class CaptureHandler(logging.Handler):
    """On the root logger: copies records emitted inside a run into that run's log."""

    def emit(self, record: logging.LogRecord) -> None:
        context = current_run.get()
        if context is not None and not getattr(record, "rota_captured", False):
            context.capture(record)
