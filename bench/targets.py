"""What the benchmark jobs call. APScheduler stores them as text (``bench.targets:record``), so
they live in an importable module; rota takes the function objects.

Each call appends ``(index, time.time())`` to `CALLS` (list.append is atomic in CPython, so the
worker threads need no lock).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

CALLS: list[tuple[int, float]] = []
PROBE_CALLED = threading.Event()
PROBE_AT: list[float] = []  # time.monotonic() of the probe's call (system-wide on Linux)


def noop() -> None:
    """A scheduled job that does nothing."""


def record(index: int) -> None:
    """Note when job `index` was called."""
    CALLS.append((index, time.time()))


def recorder(index: int) -> Callable[[], None]:
    """`record` bound to one index, as a function of no arguments (what a rota job takes)."""

    def call() -> None:
        CALLS.append((index, time.time()))

    return call


def probe() -> None:
    """The first run after a restart: note the instant and wake the waiting benchmark."""
    PROBE_AT.append(time.monotonic())
    PROBE_CALLED.set()
