"""The demo's tests: a tiny sample library, a fake clock, a context to call a job's work."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import pytest

from rota.demo.library import Library, Sizes, open_library
from rota.demo.server import MediaServer
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
def server(library: Library, clock: FakeClock, tmp_path: Path) -> MediaServer:
    return MediaServer(library, tmp_path / "backups", clock, pace=0)


def context(job: str, *, run_id: int | None = None, attempt: int = 1) -> RunContext:
    """What the engine hands a job: a run's context, here with no engine behind it."""
    info = RunInfo(run_id or next(_ids), job, Reason.MANUAL, None, attempt, {})
    return RunContext(info, lambda: None)


Work = Callable[[RunContext, MediaServer], None]


def run(work: Work, server: MediaServer, *, full: bool | None = None, **kwargs: int) -> RunContext:
    """Call a job's work with a fresh context (and library-scan's `full`, if given); the
    context after (progress, log)."""
    ctx = context(work.__name__.replace("_", "-"), **kwargs)
    if full is None:
        work(ctx, server)
    else:
        work(ctx, server, full=full)
    return ctx


def progress(ctx: RunContext) -> tuple[float | None, float | None, str | None]:
    return ctx.snapshot()[0]


def log(ctx: RunContext) -> str:
    return ctx.snapshot()[1]
