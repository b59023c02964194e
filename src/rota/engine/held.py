"""Notices heard while the engine starts, held until its job table is ready.

The engine listens before it reads the jobs and the queued runs, so that nothing another process
changes in between is missed (a lone node never polls). A notice heard before the job table is
ready would race the job sync, so it is held, once each, and acted on when the table is ready:
only the jobs named are read again, however many jobs there are.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

__all__ = ["HeldNotices"]


class HeldNotices:
    """Passes each notice on to `act`, except between `hold` and `release`, when it keeps them
    (each once, in the order first heard) and passes them on at `release`. Any thread may call
    `heard`."""

    def __init__(self, act: Callable[[str], None]) -> None:
        self._act = act
        self._held: dict[str, None] | None = None
        self._lock = threading.Lock()

    def hold(self) -> None:
        """Keep the notices heard from now on until `release`."""
        with self._lock:
            self._held = {}

    def heard(self, notice: str) -> None:
        with self._lock:
            if self._held is not None:
                self._held[notice] = None
                return
        self._act(notice)

    def release(self) -> None:
        """Pass on the notices kept since `hold`, and the ones heard from now on as they come."""
        with self._lock:
            held, self._held = self._held, None
        for notice in held or ():
            self._act(notice)
