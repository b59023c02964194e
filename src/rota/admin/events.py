"""Following the store's events from any process: an async iterator for asyncio apps, callbacks
on a thread of their own for sync apps (docs/decisions/0006).

Both read `Store.events_after` from the last id they saw and wait between reads for the store's
``events:`` notice, or a second at most: notices may be lost, the table is not.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import AsyncGenerator, Callable
from typing import Any

from rota.errors import SettingError
from rota.store.abc import Store
from rota.store.records import EventKind, EventRecord

__all__ = ["Callbacks", "follow", "matches"]

log = logging.getLogger("rota.events")
BATCH = 500
# Notices can be lost (a listener reconnecting, another process on SQLite between checks):
# read at least this often anyway.
POLL_SECONDS = 1.0


def matches(pattern: str, kind: EventKind) -> bool:
    """Whether an event kind matches ``"run.finished"``, ``"run."`` (a family) or ``"*"``."""
    return pattern == "*" or kind == pattern or (pattern.endswith(".") and kind.startswith(pattern))


def check_pattern(pattern: object) -> str:
    """A valid kind pattern (see `matches`), or SettingError naming the kinds."""
    kinds = {kind.value for kind in EventKind}
    families = {kind.split(".")[0] + "." for kind in kinds}
    if isinstance(pattern, str) and (pattern == "*" or pattern in kinds | families):
        return pattern
    allowed = ", ".join(["*", *sorted(families), *sorted(kinds)])
    raise SettingError("event kind", str(pattern), f"{pattern!r} is not one of {allowed}")


async def follow(store: Store, after: int | None) -> AsyncGenerator[EventRecord]:
    """Every event with an id above `after` (None: from now on), in id order, forever."""
    loop = asyncio.get_running_loop()
    wake = asyncio.Event()

    def heard(notice: str) -> None:  # any thread
        if notice.startswith("events:"):
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                loop.call_soon_threadsafe(wake.set)

    stop = store.listen(heard)
    try:
        last = await asyncio.to_thread(store.last_event_id) if after is None else after
        while True:
            wake.clear()
            batch = await asyncio.to_thread(store.events_after, last, BATCH)
            for event in batch:
                last = event.id
                yield event
            if len(batch) < BATCH:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(wake.wait(), POLL_SECONDS)
    finally:
        # Not on the caller's loop: a PostgreSQL listener's thread takes up to half a second
        # to end (it waits for notices in spans of that length).
        await asyncio.to_thread(stop)


class Callbacks:
    """`Rota.on`: callbacks by kind pattern, called in order of the events on one thread."""

    def __init__(self, store: Callable[[], Store]) -> None:
        self._store = store
        self._lock = threading.Lock()
        self._callbacks: list[tuple[str, Callable[[EventRecord], Any]]] = []
        self._thread: threading.Thread | None = None
        self._wake = threading.Event()
        self._stopping = threading.Event()

    def add(self, pattern: str, callback: Callable[[EventRecord], Any]) -> Callable[[], None]:
        """Call `callback` with each event matching `pattern` from now on; returns a function
        that stops it."""
        check_pattern(pattern)
        if not callable(callback):
            raise SettingError("callback", repr(callback)[:60], f"{callback!r} is not callable")
        entry = (pattern, callback)
        with self._lock:
            self._callbacks.append(entry)
            if self._thread is None:
                store = self._store()
                start = store.last_event_id()
                self._stopping.clear()
                self._thread = threading.Thread(
                    target=self._run, args=(store, start), name="rota-events", daemon=True
                )
                self._thread.start()

        def remove() -> None:
            with self._lock:
                if entry in self._callbacks:
                    self._callbacks.remove(entry)
                idle = not self._callbacks
            if idle:  # no callback left: the thread and its listener go too
                self.close()

        return remove

    def close(self) -> None:
        """Stop the thread (callbacks stay registered for the next start)."""
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is not None:
            self._stopping.set()
            self._wake.set()
            if thread is not threading.current_thread():
                thread.join(timeout=5)

    def _heard(self, notice: str) -> None:
        if notice.startswith("events:"):
            self._wake.set()

    def _run(self, store: Store, last: int) -> None:
        stop = store.listen(self._heard)
        try:
            while not self._stopping.is_set():
                self._wake.clear()
                try:
                    batch = store.events_after(last, BATCH)
                except Exception as error:  # the store away: try again after the poll
                    log.warning("rota could not read events: %s", error)
                    batch = []
                for event in batch:
                    last = event.id
                    self._deliver(event)
                if len(batch) < BATCH:
                    self._wake.wait(POLL_SECONDS)
        finally:
            stop()

    def _deliver(self, event: EventRecord) -> None:
        with self._lock:
            callbacks = [c for pattern, c in self._callbacks if matches(pattern, event.kind)]
        for callback in callbacks:
            try:
                callback(event)
            except Exception:  # a callback's failure must not stop the others
                log.exception("rota event callback %r failed on event %s", callback, event.id)
