"""The demo's tests: a tiny sample library, a fake clock, the local TMDb, a context to call a
job's work."""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from rota.demo.keys import kept_secret
from rota.demo.library import Library, Sizes, open_library
from rota.demo.server import MediaServer
from rota.demo.tmdb import FakeTmdb
from rota.demo.tmdb_client import KEY_FILE, Tmdb
from rota.engine.context import RunContext, RunInfo
from rota.store.records import Reason
from rota.testing import FakeClock

START = datetime.fromisoformat("2026-11-23T10:00:00+00:00")
TINY = Sizes(titles=30, catalog=10, users=4, events=200)
_ids = itertools.count(1)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


@pytest.fixture
def library(tmp_path: Path) -> Library:
    made, created = open_library(tmp_path / "library.db", sizes=TINY, now=START)
    assert created
    return made


@pytest.fixture
def api(library: Library, clock: FakeClock, tmp_path: Path) -> Iterator[FakeTmdb]:
    """The local TMDb on a free port, its gateway never giving up (tests that want it to say
    so), its key in ``tmp_path/tmdb-key``."""
    with FakeTmdb(library, kept_secret(tmp_path / KEY_FILE), clock, outages=False) as served:
        yield served


@pytest.fixture
def server(library: Library, clock: FakeClock, tmp_path: Path, api: FakeTmdb) -> MediaServer:
    tmdb = Tmdb(api.url, tmp_path / KEY_FILE)
    return MediaServer(library, tmp_path / "backups", clock, pace=0, tmdb=tmdb)


class Context(RunContext):
    """A run's context with no engine behind it: `limit` takes nothing (the engine tests show
    the limiter), `spawn` keeps what would be queued in `spawned`."""

    def __init__(self, info: RunInfo) -> None:
        super().__init__(info, lambda: None)
        self.spawned: list[tuple[str, str | None, dict[str, Any]]] = []

    def limit(self, name: str, cost: int = 1) -> Any:
        return contextlib.nullcontext()

    def spawn(self, job: str, /, key: str | None = None, **args: Any) -> None:
        self.spawned.append((job, key, args))


def context(job: str, *, run_id: int | None = None, attempt: int = 1) -> Context:
    """What the engine hands a job: a run's context, here with no engine behind it."""
    info = RunInfo(run_id or next(_ids), job, Reason.MANUAL, None, attempt, {})
    return Context(info)


Work = Callable[..., None]


def run(work: Work, server: MediaServer, *, run_id: int | None = None, **args: Any) -> Context:
    """Call a job's work with a fresh context and the job's own arguments (library-scan's
    `full`, fetch-artwork's `title_id`); the context after (progress, log, spawns)."""
    ctx = context(work.__name__.replace("_", "-"), run_id=run_id)
    work(ctx, server, **args)
    return ctx


def progress(ctx: RunContext) -> tuple[float | None, float | None, str | None]:
    return ctx.snapshot()[0]


def log(ctx: RunContext) -> str:
    return ctx.snapshot()[1]
