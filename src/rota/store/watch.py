"""Notices between processes on SQLite: a thread that notices other connections' commits.

SQLite has no NOTIFY. Every `INTERVAL` seconds the watcher reads ``PRAGMA data_version`` on a
connection of its own (a few microseconds; the value changes when another connection
committed), and only when it changed reads the events written by other store objects since the
last one it saw, and hands on the notices they stand for (decision 0006). Commits through the
watching store object itself are told directly by that object, not here.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine

from rota.store.events import notices_of_events
from rota.store.records import EventRecord

__all__ = ["INTERVAL", "Watcher"]

log = logging.getLogger("rota.store")

INTERVAL = 0.25
"""Seconds between two looks at ``PRAGMA data_version`` (real time)."""

_PAGE = 1000


class Watcher:
    """Calls `deliver` with the notices of events other processes commit, from a thread of its
    own, until `close`.

    `read_events(after_id, limit, exclude_origin)` and `last_event_id()` are the store's reads;
    the watcher starts from the newest event, so it tells only what commits after it started.
    """

    def __init__(
        self,
        engine: Engine,
        origin: str,
        read_events: Callable[..., list[EventRecord]],
        last_event_id: Callable[[], int],
        deliver: Callable[[list[str]], None],
    ) -> None:
        self._engine = engine
        self._origin = origin
        self._read_events = read_events
        self._deliver = deliver
        self._stopping = threading.Event()
        # A pooled connection kept for the watcher's life, used through the driver: outside any
        # transaction (the driver connection is in autocommit mode), so data_version moves.
        self._connection: Any = engine.raw_connection()
        self._version = self._data_version()
        self._seen = last_event_id()
        self._thread = threading.Thread(target=self._run, name="rota-watch", daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Stop watching (the thread ends within `INTERVAL`) and return the connection."""
        self._stopping.set()
        if self._thread is not threading.current_thread():
            self._thread.join(timeout=5)
        self._connection.close()

    def _data_version(self) -> int:
        cursor = self._connection.driver_connection.execute("PRAGMA data_version")
        return int(cursor.fetchone()[0])

    def _run(self) -> None:
        failing = False
        while not self._stopping.wait(INTERVAL):
            try:
                version = self._data_version()
                if version == self._version:
                    continue
                self._version = version
                self._look()
                failing = False
            except Exception:
                if not failing:
                    log.exception("rota could not read other processes' events; it tries again")
                failing = True

    def _look(self) -> None:
        """Read and tell the events other processes wrote since the last one seen."""
        while not self._stopping.is_set():
            found = self._read_events(self._seen, _PAGE, exclude_origin=self._origin)
            if not found:
                return
            self._seen = found[-1].id
            try:
                self._deliver(notices_of_events(found))
            except Exception:
                log.exception("rota failed to act on other processes' events")
            if len(found) < _PAGE:
                return
