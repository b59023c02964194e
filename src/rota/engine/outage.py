"""While the store cannot be reached: say so once, keep trying with backoff, say when it is back.

A database restart or a network fault must not stop the engine or lose what it was writing: a
run's finish, a claim, the fire times that came due. Writes that fail because the store is
unreachable (`StoreUnavailableError`) are tried again, with a growing pause, and the log says once
that the store is gone and once that it is back, not once a second. What a write that broke
mid-commit may have left behind is put right once the store answers again (`Engine._resync`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from rota.errors import StoreUnavailableError

__all__ = ["FIRST_PAUSE", "LONGEST_PAUSE", "Outage", "pause_after"]

log = logging.getLogger("rota.engine")

FIRST_PAUSE = timedelta(seconds=0.1)
LONGEST_PAUSE = timedelta(seconds=5)


def pause_after(failures: int) -> timedelta:
    """How long to wait before trying again after `failures` failures in a row (1, 2, ...)."""
    return min(FIRST_PAUSE * (1 << min(max(failures - 1, 0), 16)), LONGEST_PAUSE)


class Outage:
    """Whether the store answers, as the engine last found; `on_back` runs when it answers
    again after failing."""

    def __init__(self, node_id: str, on_back: Callable[[], None]) -> None:
        self.node_id = node_id
        self.since: datetime | None = None
        self._on_back = on_back

    def failed(self, what: str, error: BaseException, now: datetime) -> None:
        """A call to the store failed: an outage if it could not be reached, else a fault
        of its own, logged with its traceback (each time: it is not expected to repeat)."""
        if not isinstance(error, StoreUnavailableError):
            log.error("rota node %s failed %s", self.node_id, what, exc_info=error)
            return
        if self.since is None:
            self.since = now
            log.error(
                "rota node %s cannot reach its store (%s: %s); it keeps trying",
                self.node_id,
                what,
                error,
            )
        else:
            log.debug("rota node %s: %s failed again: %s", self.node_id, what, error)

    def answered(self, now: datetime) -> None:
        """A call to the store succeeded."""
        if self.since is None:
            return
        log.warning("rota node %s reached its store again after %s", self.node_id, now - self.since)
        self.since = None
        self._on_back()
