"""The engine's own long-lived tasks (scheduler, dispatcher, heartbeat) outlive their own bugs.

An unexpected error in one of them used to end that task quietly: nothing fired any more, or no
run started, while the process looked alive. Now it is logged with its traceback, and the task
starts again after a short pause (longer if it keeps failing). Cancellation, and what is no
`Exception` (a KeyboardInterrupt from Ctrl-C), still end it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from datetime import datetime, timedelta
from typing import Any

from rota.clock import Clock
from rota.engine.outage import pause_after

__all__ = ["keep_running"]

log = logging.getLogger("rota.engine")
# Failures further apart than this count as a first failure again.
_CALM = timedelta(minutes=1)


async def keep_running(
    name: str,
    body: Callable[[], Coroutine[Any, Any, None]],
    clock: Clock,
    stopping: asyncio.Event | None = None,
) -> None:
    """Run `body()` until it returns; after an unexpected error, log it and run it again
    (unless `stopping` is set by then)."""
    failures = 0
    last: datetime | None = None
    while True:
        try:
            await body()
            return
        except Exception:
            now = clock.now()
            failures = 1 if last is None or now - last > _CALM else failures + 1
            last = now
            pause = pause_after(failures)
            log.error(
                "rota's %s failed; rota starts it again in %.1f s",
                name,
                pause.total_seconds(),
                exc_info=True,
            )
        if stopping is not None and stopping.is_set():
            return
        await _pause(clock, now + pause, stopping)
        if stopping is not None and stopping.is_set():
            return


async def _pause(clock: Clock, until: datetime, stopping: asyncio.Event | None) -> None:
    if stopping is None:
        await clock.sleep_until(until)
        return
    waiters = [
        asyncio.ensure_future(clock.sleep_until(until)),
        asyncio.ensure_future(stopping.wait()),
    ]
    try:
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
