"""The demo's media server as its jobs see it: the library, where backups go, the clock, how
long a unit of work takes (so that a visitor sees progress; 0 in tests), and TMDb."""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from rota.clock import Clock, SystemClock
from rota.demo.library import Library
from rota.demo.tmdb_client import Tmdb
from rota.engine.context import RunContext

__all__ = ["MediaServer", "Stopped", "read_state", "write_state"]


class Stopped(Exception):
    """The run was cancelled, timed out or rota is stopping: the job ends early."""


@dataclass(frozen=True)
class MediaServer:
    """What every demo job works on."""

    library: Library
    backups: Path
    clock: Clock = SystemClock()  # noqa: RUF009 - a stateless value
    pace: float = 0.0  # seconds per unit of work
    tmdb: Tmdb | None = None  # the metadata source; the jobs that call it need it

    def metadata_source(self) -> Tmdb:
        """TMDb, for the jobs that call it."""
        if self.tmdb is None:
            raise RuntimeError("this media server has no TMDb to call (MediaServer.tmdb)")
        return self.tmdb

    @property
    def seed(self) -> int:
        return self.library.seed

    def now(self) -> datetime:
        return self.clock.now()

    def work(self, ctx: RunContext, units: float = 1.0) -> None:
        """Spend `units` of work time (real time: the work stands in for reading files or
        calling services), and end the job early if it was asked to stop."""
        if self.pace and units:
            time.sleep(self.pace * units)
        if ctx.cancelled:
            raise Stopped("stopped early: the run was cancelled, timed out or rota is stopping")


def read_state(db: sqlite3.Connection, name: str, default: str = "") -> str:
    """A job's cursor from the library's state table."""
    row = db.execute("SELECT value FROM state WHERE name = ?", (name,)).fetchone()
    return default if row is None else str(row[0])


def write_state(db: sqlite3.Connection, name: str, value: str) -> None:
    db.execute(
        "INSERT INTO state (name, value) VALUES (?, ?)"
        " ON CONFLICT (name) DO UPDATE SET value = excluded.value",
        (name, value),
    )
