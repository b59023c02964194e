"""Time, injected: everything in rota that reads or awaits time goes through a `Clock`."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Protocol

__all__ = ["Clock", "SystemClock"]

# A long sleep is cut into pieces so that a wall-clock jump (suspend, NTP step) is noticed.
_LONGEST_NAP = 30.0


class Clock(Protocol):
    """What the engine needs of time: the current instant, and a wait until a later one."""

    def now(self) -> datetime:
        """The current instant, aware, in UTC."""
        ...

    async def sleep_until(self, deadline: datetime) -> None:
        """Return once `deadline` has come (at once if it has already). Cancellable."""
        ...


class SystemClock:
    """The real clock."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    async def sleep_until(self, deadline: datetime) -> None:
        while (remaining := (deadline - self.now()).total_seconds()) > 0:
            await asyncio.sleep(min(remaining, _LONGEST_NAP))
