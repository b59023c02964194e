"""The sample library: generated on first start, deterministic, of the sizes asked for."""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest

from rota.demo.library import Library, LibraryError, Sizes, open_library
from tests.demo.conftest import START, TINY

TABLES = ("titles", "users", "watch_events", "state")


def dump(path: Path) -> dict[str, list[tuple[object, ...]]]:
    with sqlite3.connect(path) as db:
        return {t: db.execute(f"SELECT * FROM {t} ORDER BY 1, 2").fetchall() for t in TABLES}


def test_the_same_seed_and_instant_give_the_same_library(tmp_path: Path) -> None:
    first, _ = open_library(tmp_path / "a.db", seed=5, sizes=TINY, now=START)
    second, _ = open_library(tmp_path / "b.db", seed=5, sizes=TINY, now=START)
    other, _ = open_library(tmp_path / "c.db", seed=6, sizes=TINY, now=START)
    assert dump(first.path) == dump(second.path)
    assert dump(first.path)["titles"] != dump(other.path)["titles"]


def test_sizes_states_and_history(library: Library) -> None:
    counts = library.counts()
    assert counts["titles:present"] == TINY.titles
    assert counts["titles:catalog"] == TINY.catalog
    assert counts["users"] == TINY.users
    assert counts["watch_events"] == TINY.events
    with library.connect() as db:
        first, last = db.execute(
            "SELECT min(watched_at), max(watched_at) FROM watch_events"
        ).fetchone()
        watched = {
            r[0]
            for r in db.execute(
                "SELECT DISTINCT t.state FROM watch_events e JOIN titles t ON t.id = e.title_id"
            )
        }
        missing = db.execute("SELECT count(*) FROM titles WHERE overview IS NULL").fetchone()[0]
        catalog_missing = db.execute(
            "SELECT count(*) FROM titles WHERE state = 'catalog' AND overview IS NULL"
        ).fetchone()[0]
    assert (START - timedelta(days=180)).isoformat() <= first <= last <= START.isoformat()
    assert watched == {"present"}  # plays are of titles the library has
    assert 0 < missing < TINY.titles  # some wait for enrich-metadata, most have metadata
    assert catalog_missing == 0  # the metadata source knows every catalog title


def test_the_default_library_has_a_few_hundred_titles(tmp_path: Path) -> None:
    made, _ = open_library(tmp_path / "library.db", now=START)
    counts = made.counts()
    assert counts["titles"] == Sizes().titles + Sizes().catalog >= 300
    assert counts["users"] == Sizes().users
    assert counts["watch_events"] == Sizes().events


def test_a_second_open_keeps_the_library_and_its_seed(tmp_path: Path) -> None:
    path = tmp_path / "library.db"
    first, created = open_library(path, seed=11, sizes=TINY, now=START)
    before = dump(path)
    again, created_again = open_library(path, seed=99, sizes=Sizes(), now=START)
    assert (created, created_again) == (True, False)
    assert again.seed == first.seed == 11
    assert dump(path) == before
    assert not path.with_name("library.db.part").exists()


@pytest.mark.parametrize("content", [b"not a database at all", b""])
def test_a_file_that_is_not_a_library_is_named(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "library.db"
    path.write_bytes(content)
    with pytest.raises(LibraryError, match=r"library\.db is not a demo library"):
        open_library(path)


def test_a_library_from_before_the_artwork_table_gets_it_when_opened(tmp_path: Path) -> None:
    made, _ = open_library(tmp_path / "library.db", sizes=TINY, now=START)
    with sqlite3.connect(made.path) as db:
        db.execute("DROP TABLE artwork")  # as the demo generated it before fetch-artwork
    again, created = open_library(made.path)
    assert not created
    assert again.counts()["artwork"] == 0
