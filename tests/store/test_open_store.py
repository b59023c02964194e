"""open_store: which URL gives which store, and what an unsupported one is told."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from rota.errors import StoreError
from rota.store import MemoryStore, open_store
from rota.store.sql import SqlStore

from .conftest import T0


def test_open_store_picks_the_implementation(tmp_path: Path) -> None:
    assert isinstance(open_store("memory://"), MemoryStore)
    assert isinstance(open_store(f"sqlite:///{tmp_path}/x.db"), SqlStore)
    postgres = open_store("postgresql://rota:secret@localhost/rota")
    assert isinstance(postgres, SqlStore)
    assert postgres.url.drivername == "postgresql+psycopg"
    assert "secret" not in repr(postgres)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("mysql://root:hunter2@db/rota", r"'mysql://root:\*\*\*@db/rota' is not supported; use"),
        ("redis://localhost", "'redis://localhost' is not supported; use one of memory://"),
        ("rota.db", "'rota.db' is not supported"),
        ("sqlite://", "an in-memory SQLite database is private to each connection"),
        ("sqlite:///:memory:", "an in-memory SQLite database"),
        ("sqlite+aiosqlite:///x.db", "the SQLite driver 'aiosqlite' is not supported"),
        ("postgresql+asyncpg://h/db", "rota talks to PostgreSQL through psycopg 3"),
    ],
)
def test_unsupported_urls_are_named(url: str, message: str) -> None:
    with pytest.raises(StoreError, match=message) as caught:
        open_store(url)
    assert "hunter2" not in str(caught.value)


def test_postgresql_without_its_driver_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # psycopg is installed for the tests: make it missing (None in sys.modules stops an import).
    monkeypatch.setitem(sys.modules, "psycopg", None)
    with pytest.raises(StoreError, match=r"install rota\[postgres\]"):
        open_store("postgresql://rota@127.0.0.1/test").open()


def test_memory_urls_with_a_name_share_one_store() -> None:
    private = open_store("memory://")
    assert private is not open_store("memory://")
    shared = open_store("memory://test_memory_urls_with_a_name_share_one_store")
    assert shared is open_store("memory://test_memory_urls_with_a_name_share_one_store")
    assert shared is not open_store("memory://another-name")
    shared.open()
    shared.sync_jobs({"a": {}}, T0)
    shared.close()
    # Like a file: opened again by someone else, the data is there.
    again = open_store("memory://test_memory_urls_with_a_name_share_one_store")
    again.open()
    assert [job.name for job in again.list_jobs()] == ["a"]
    assert "test_memory_urls" in repr(again)
    again.close()
    with pytest.raises(StoreError, match="'memory://another-name' is not open"):
        open_store("memory://another-name").list_jobs()
