"""Helpers for testing code that uses rota: a clock that moves only when told to."""

from __future__ import annotations

import asyncio
import heapq
import itertools
import threading
from datetime import UTC, datetime, timedelta

__all__ = ["FakeClock"]


class FakeClock:
    """A `rota.clock.Clock` whose time moves only by `advance` or `set`.

    Sleepers wake when the fake time reaches their deadline, never because real time passed. It is
    safe to advance from another thread than the sleepers' event loop.
    """

    def __init__(self, start: datetime | str = "2026-01-01T00:00:00+00:00") -> None:
        instant = datetime.fromisoformat(start) if isinstance(start, str) else start
        if instant.tzinfo is None:
            raise ValueError(f"FakeClock needs an aware start instant, not {instant!r}")
        self._now = instant.astimezone(UTC)
        self._lock = threading.Lock()
        self._order = itertools.count()
        self._sleepers: list[tuple[datetime, int, asyncio.Future[None]]] = []

    def now(self) -> datetime:
        """The fake current instant, in UTC."""
        with self._lock:
            return self._now

    async def sleep_until(self, deadline: datetime) -> None:
        """Wait until the fake time reaches `deadline`."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        with self._lock:
            if deadline <= self._now:
                return
            heapq.heappush(self._sleepers, (deadline, next(self._order), future))
        await future

    def advance(self, delta: timedelta | float) -> datetime:
        """Move time forward by `delta` (seconds or a timedelta); wakes the sleepers now due."""
        step = delta if isinstance(delta, timedelta) else timedelta(seconds=delta)
        if step < timedelta(0):
            raise ValueError(f"a clock does not go backwards ({step})")
        with self._lock:
            target = self._now + step
        return self.set(target)

    def set(self, instant: datetime) -> datetime:
        """Move time forward to `instant`; wakes the sleepers now due."""
        with self._lock:
            if instant < self._now:
                raise ValueError(f"a clock does not go backwards ({instant} < {self._now})")
            self._now = instant.astimezone(UTC)
            due = []
            while self._sleepers and self._sleepers[0][0] <= self._now:
                due.append(heapq.heappop(self._sleepers)[2])
        for future in due:
            future.get_loop().call_soon_threadsafe(_wake, future)
        return self._now

    @property
    def next_deadline(self) -> datetime | None:
        """The earliest deadline anyone is sleeping until, if any (to advance straight to it)."""
        with self._lock:
            live = [entry for entry in self._sleepers if not entry[2].done()]
            return min(entry[0] for entry in live) if live else None


def _wake(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)
