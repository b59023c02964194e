"""Time, injected: everything in rota that reads or awaits time goes through a `Clock`."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Protocol, runtime_checkable

__all__ = ["Clock", "StepAware", "SystemClock"]

log = logging.getLogger("rota.clock")

# A long sleep is cut into pieces so that a wall-clock jump (suspend, NTP step) is noticed.
_LONGEST_NAP = 30.0
# asyncio's selector waits in whole milliseconds, rounded up, so a sleep to an arbitrary instant
# wakes up to 1 ms late (0.5 ms on average). The loop is asked to wake 1 ms early, and what is
# left then (at most 1.5 ms) is slept on the loop's thread, to the microsecond.
_SELECTOR_GRAIN = 0.001
# A disagreement of wall and monotonic time larger than this is a step of the wall clock.
_STEP = 1.0


class Clock(Protocol):
    """What the engine needs of time: the current instant, and a wait until a later one."""

    def now(self) -> datetime:
        """The current instant, aware, in UTC."""
        ...

    async def sleep_until(self, deadline: datetime) -> None:
        """Return once `deadline` has come (at once if it has already). Cancellable."""
        ...


@runtime_checkable
class StepAware(Protocol):
    """A clock that tells of steps of its wall clock (the engine then re-plans its schedules)."""

    def on_step(self, callback: Callable[[float], None]) -> Callable[[], None]:
        """Call `callback` with the step in seconds (negative: back) when a step is noticed;
        returns a function that stops calling it."""
        ...


class SystemClock:
    """The real clock. `now()` is the system's wall clock; a wait goes by elapsed (monotonic)
    time, so that a wall clock stepped while it waits (NTP, an admin, a VM resumed) neither
    stretches it by a step back nor ends it early by a step forward. A step is logged once.

    `wall` and `monotonic` are the time sources in seconds (tests step a fake wall clock);
    `check_every` is how often a long wait looks at the wall clock.
    """

    def __init__(
        self,
        *,
        wall: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
        check_every: float = _LONGEST_NAP,
    ) -> None:
        self._wall = wall
        self._monotonic = monotonic
        self._check_every = check_every
        self._offset = wall() - monotonic()  # wall minus monotonic, as last seen
        self._step_callbacks: list[Callable[[float], None]] = []

    def on_step(self, callback: Callable[[float], None]) -> Callable[[], None]:
        """Call `callback` (on the waiting loop's thread) with each step noticed, in seconds."""
        self._step_callbacks.append(callback)

        def remove() -> None:
            if callback in self._step_callbacks:
                self._step_callbacks.remove(callback)

        return remove

    def now(self) -> datetime:
        return datetime.fromtimestamp(self._wall(), UTC)

    async def sleep_until(self, deadline: datetime) -> None:
        """Wake within tens of microseconds of `deadline`. The last 0.5-1.5 ms block the event
        loop: a fire time is worth that, and nothing else is due in that moment. If the wall
        clock is stepped meanwhile, wake when as much time has passed as `deadline` was away."""
        wall, mono = self._wall(), self._monotonic()
        target = mono + (deadline - datetime.fromtimestamp(wall, UTC)).total_seconds()
        stepped = False
        while True:
            wall_now, mono_now = self._wall(), self._monotonic()
            if abs((wall_now - wall) - (mono_now - mono)) > _STEP:
                stepped = True
                wall, mono = wall_now, mono_now
                self._noticed(wall_now - mono_now)
            remaining = target - mono_now
            if not stepped:  # to the microsecond, and never early, by the wall clock
                remaining = max(remaining, (deadline - self.now()).total_seconds())
            if remaining <= 0:
                return
            if remaining <= 1.5 * _SELECTOR_GRAIN:
                time.sleep(remaining)
            else:
                await asyncio.sleep(min(remaining - _SELECTOR_GRAIN, self._check_every))

    def _noticed(self, offset: float) -> None:
        """Log a step of the wall clock once, however many waits notice it."""
        step, self._offset = offset - self._offset, offset
        if abs(step) > _STEP:
            way = "forward" if step > 0 else "back"
            log.warning(
                "the system clock was stepped %s by %.1f s; rota's waits go by elapsed time",
                way,
                abs(step),
            )
            for callback in list(self._step_callbacks):
                callback(step)
