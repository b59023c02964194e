"""Stores tell listeners of committed changes that other nodes should act on (Store.listen):
the memory store within its process, PostgreSQL through NOTIFY, SQLite directly for its own
commits and through the watcher (PRAGMA data_version, then the events table) for others'."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from rota.errors import UnknownJobError
from rota.store import Enqueue, RequestCancel, Store, UpdateJob
from rota.store.sql import SqlStore

from .conftest import T0, at, new, on_postgresql, running, sqlite_copy


class Heard:
    """Notices as a listener receives them, from any thread."""

    def __init__(self) -> None:
        self.notices: list[str] = []
        self._lock = threading.Lock()

    def __call__(self, notice: str) -> None:
        with self._lock:
            self.notices.append(notice)

    def until(self, check: Callable[[list[str]], bool], timeout: float = 5.0) -> list[str]:
        """The notices once `check` holds for them; fail after `timeout` real seconds."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                notices = list(self.notices)
            if check(notices):
                return notices
            if time.monotonic() > deadline:
                raise AssertionError(f"heard only {notices}")
            time.sleep(0.01)


def other_handle(store: Store) -> Store:
    """The same database through a store object of its own, as another node has."""
    if isinstance(store, SqlStore):
        other = SqlStore(store.url.render_as_string(hide_password=False))
        other.open()
        return other
    return store


def test_committed_changes_are_heard(jobs: Store) -> None:
    heard = Heard()
    stop = jobs.listen(heard)
    other = other_handle(jobs)  # on SQLite, heard through the watcher
    try:
        (queued,) = other.apply([Enqueue(new("a"))])
        busy = running(other, "b")
        other.apply([UpdateJob("a", at(1), paused=True), RequestCancel(busy, at(2), "stop now")])
        last = f"events:{other.last_event_id()}"
        notices = heard.until(lambda n: f"cancel:{busy}:stop now" in n and last in n)
        assert [n for n in notices if not n.startswith("events:")] == [
            f"run:{queued}",
            f"run:{busy}",
            "job:a",
            f"cancel:{busy}:stop now",
        ]
        assert notices[-1] == last
    finally:
        stop()
        if other is not jobs:
            other.close()


def test_a_transaction_that_failed_tells_nothing(jobs: Store) -> None:
    heard = Heard()
    stop = jobs.listen(heard)
    try:
        with pytest.raises(UnknownJobError):
            jobs.apply([Enqueue(new("a")), Enqueue(new("missing"))])
        (marker,) = jobs.apply([Enqueue(new("b"))])
        last = f"events:{jobs.last_event_id()}"
        assert heard.until(lambda n: last in n) == [f"run:{marker}", last]
    finally:
        stop()


def test_a_stopped_listener_hears_no_more(jobs: Store) -> None:
    heard = Heard()
    stop = jobs.listen(heard)
    stop()
    jobs.apply([UpdateJob("a", T0, paused=True)])
    time.sleep(0.2)
    assert heard.notices == []


def test_sqlite_hears_a_commit_made_by_another_process(
    tmp_path: Path, sqlite_template: Path
) -> None:
    url = sqlite_copy(sqlite_template, tmp_path)
    store = SqlStore(url)
    store.open()
    store.sync_jobs({"a": {}}, T0)
    heard = Heard()
    stop = store.listen(heard)
    script = (
        "import sys\n"
        "from datetime import UTC, datetime\n"
        "from rota.store import Enqueue, NewRun, Reason, UpdateJob\n"
        "from rota.store.sql import SqlStore\n"
        "store = SqlStore(sys.argv[1])\n"
        "store.open()\n"
        "now = datetime.now(UTC)\n"
        "(run_id,) = store.apply([Enqueue(NewRun('a', Reason.MANUAL, now))])\n"
        "store.apply([UpdateJob('a', now, paused=True)])\n"
        "print(run_id, store.last_event_id())\n"
        "store.close()\n"
    )
    try:
        result = subprocess.run(
            [sys.executable, "-c", script, url],
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        )
        run_id, last = result.stdout.split()
        notices = heard.until(lambda n: f"events:{last}" in n)
        assert [n for n in notices if not n.startswith("events:")] == [f"run:{run_id}", "job:a"]
    finally:
        stop()
        store.close()


def test_the_watcher_runs_only_while_someone_listens(jobs: Store) -> None:
    if not isinstance(jobs, SqlStore) or on_postgresql(jobs):
        pytest.skip("the watcher is SQLite's")
    first, second = jobs.listen(Heard()), jobs.listen(Heard())
    watcher = jobs._watcher
    assert watcher is not None
    first()
    assert jobs._watcher is watcher
    second()
    assert jobs._watcher is None
    assert not watcher._thread.is_alive()
    jobs.listen(Heard())
    jobs.close()  # closing stops it too
    assert jobs._watcher is None
    jobs.open()
