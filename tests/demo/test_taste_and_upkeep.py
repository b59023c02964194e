"""The jobs that learn from plays, and the upkeep jobs, on a tiny library."""

from __future__ import annotations

import gzip
import math
import sqlite3
from array import array
from datetime import timedelta

import pytest

from rota import Skip
from rota.demo import taste, upkeep
from rota.demo.server import MediaServer, Stopped
from rota.demo.sources import GENRES, iso
from rota.testing import FakeClock
from tests.demo.conftest import TINY, context, log, progress, run

ALL_TITLES = TINY.titles + TINY.catalog


def test_embeddings_are_small_unit_vectors_redone_only_when_a_title_changes(
    server: MediaServer,
) -> None:
    first = run(taste.embeddings, server)
    with server.library.connect() as db:
        vectors = [array("f", row[0]) for row in db.execute("SELECT vector FROM embeddings")]
    assert len(vectors) == ALL_TITLES
    assert all(len(v) == taste.DIMENSIONS == len(GENRES) + 4 for v in vectors)
    assert all(math.isclose(math.sqrt(sum(x * x for x in v)), 1, rel_tol=1e-5) for v in vectors)
    assert progress(first)[:2] == (ALL_TITLES, ALL_TITLES)
    assert f"embedded {ALL_TITLES} titles in {taste.DIMENSIONS} dimensions; 0 unchanged" in log(
        first
    )

    assert "embedded 0 titles" in log(run(taste.embeddings, server))
    with server.library.connect() as db:
        db.execute("UPDATE titles SET rating = 9.9 WHERE id = 4")
    assert f"embedded 1 titles in {taste.DIMENSIONS} dimensions; {ALL_TITLES - 1} unchanged" in log(
        run(taste.embeddings, server)
    )


def test_recommendations_need_embeddings_then_suggest_unwatched_titles(
    server: MediaServer,
) -> None:
    with pytest.raises(Skip, match="no embeddings yet"):
        run(taste.recommendations, server)
    run(taste.embeddings, server)
    ctx = run(taste.recommendations, server)
    with server.library.connect() as db:
        rows = db.execute("SELECT * FROM recommendations ORDER BY user_id, rank").fetchall()
        watched = set(db.execute("SELECT user_id, title_id FROM watch_events").fetchall())
        present = {r[0] for r in db.execute("SELECT id FROM titles WHERE state = 'present'")}
    users = {row["user_id"] for row in rows}
    assert users == set(range(1, TINY.users + 1))
    for user in users:
        mine = [row for row in rows if row["user_id"] == user]
        assert 0 < len(mine) <= taste.RECOMMENDED
        assert [row["score"] for row in mine] == sorted(
            (row["score"] for row in mine), reverse=True
        )
    assert not {(row["user_id"], row["title_id"]) for row in rows} & watched
    assert {row["title_id"] for row in rows} <= present
    assert progress(ctx)[:2] == (TINY.users, TINY.users)


def test_top_picks_rank_the_most_watched_titles(server: MediaServer, clock: FakeClock) -> None:
    ctx = run(taste.top_picks, server)
    with server.library.connect() as db:
        picks = db.execute("SELECT * FROM top_picks ORDER BY rank").fetchall()
        plays = dict(db.execute("SELECT title_id, count(*) FROM watch_events GROUP BY title_id"))
    assert len(picks) == taste.PICKS
    assert [p["score"] for p in picks] == sorted((p["score"] for p in picks), reverse=True)
    assert all(p["plays"] == plays[p["title_id"]] for p in picks)  # few plays: all time
    assert "all time" in log(ctx)
    assert progress(ctx) == (3, 3, "top picks written")


def test_discovery_wants_catalog_titles_that_match_tastes(server: MediaServer) -> None:
    with pytest.raises(Skip, match="no embeddings yet"):
        run(taste.discovery, server)
    run(taste.embeddings, server)
    ctx = run(taste.discovery, server)
    with server.library.connect() as db:
        wanted = db.execute(
            "SELECT t.state, w.requested_for FROM wanted w JOIN titles t ON t.id = w.title_id"
        ).fetchall()
    assert wanted
    assert {row[0] for row in wanted} == {"catalog"}
    assert sum(row[1] for row in wanted) == 3 * TINY.users  # three per user's taste
    assert (
        f"{len(wanted)} titles wanted by {TINY.users} users' tastes, {len(wanted)} of them new"
        in log(ctx)
    )


def test_library_build_makes_a_collection_per_genre_and_recently_added(
    server: MediaServer,
) -> None:
    ctx = run(taste.library_build, server)
    with server.library.connect() as db:
        collections = dict(
            db.execute(
                "SELECT c.name, count(*) FROM collections c"
                " JOIN collection_items i ON i.collection_id = c.id GROUP BY c.name"
            ).fetchall()
        )
        genres = {
            genre
            for (text,) in db.execute("SELECT genres FROM titles WHERE state = 'present'")
            for genre in text.split(",")
        }
    assert set(collections) == {f"Best of {g}" for g in genres} | {"Recently added"}
    assert collections["Recently added"] == taste.COLLECTION_SIZE
    assert all(0 < size <= taste.COLLECTION_SIZE for size in collections.values())
    again = run(taste.library_build, server)  # rebuilt, not added to
    with server.library.connect() as db:
        assert db.execute("SELECT count(*) FROM collections").fetchone()[0] == len(collections)
    assert progress(ctx) == progress(again)


def test_database_backup_copies_gzips_and_keeps_the_last_seven(server: MediaServer) -> None:
    for _ in range(upkeep.BACKUPS_KEPT + 2):
        ctx = run(upkeep.database_backup, server)
    backups = sorted(server.backups.glob("library-*.db.gz"))
    assert len(backups) == upkeep.BACKUPS_KEPT
    assert not list(server.backups.glob("*.part"))
    newest = ctx.run.id
    assert backups[-1].name.endswith(f"-run{newest:08d}.db.gz")
    restored = server.backups / "restored.db"
    restored.write_bytes(gzip.decompress(backups[-1].read_bytes()))
    with sqlite3.connect(restored) as db:
        assert db.execute("SELECT count(*) FROM titles").fetchone()[0] == ALL_TITLES
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    done, total, _ = progress(ctx)
    assert total is not None
    assert done == total > 0
    assert "removed the old backup" in log(ctx)
    assert f"{upkeep.BACKUPS_KEPT} backups kept" in log(ctx)


def test_a_backup_cut_short_leaves_nothing_behind(server: MediaServer) -> None:
    ctx = context("database-backup")
    ctx.cancel()  # as a timeout or a stop does: the job ends at its next unit of work
    with pytest.raises(Stopped):
        upkeep.database_backup(ctx, server)
    assert list(server.backups.iterdir()) == []


def test_history_cleanup_drops_old_plays_and_keeps_each_users_newest(
    server: MediaServer, clock: FakeClock
) -> None:
    with server.library.connect() as db:
        old = iso(clock.now() - timedelta(days=400))
        db.executemany(
            "INSERT INTO watch_events (user_id, title_id, watched_at, completed)"
            " VALUES (1, 1, ?, 1)",
            [(old,)] * 5,
        )
        recent = iso(clock.now() - timedelta(minutes=1))
        db.executemany(
            "INSERT INTO watch_events (user_id, title_id, watched_at, completed)"
            " VALUES (2, 1, ?, 1)",
            [(recent,)] * upkeep.PLAYS_KEPT_PER_USER,
        )
    ctx = run(upkeep.history_cleanup, server)
    with server.library.connect() as db:
        oldest = db.execute("SELECT min(watched_at) FROM watch_events").fetchone()[0]
        seconds = db.execute(
            "SELECT count(*), min(watched_at) FROM watch_events WHERE user_id = 2"
        ).fetchone()
    assert oldest > old
    assert tuple(seconds) == (upkeep.PLAYS_KEPT_PER_USER, recent)
    assert "deleted 5 plays older than a year" in log(ctx)
    assert progress(ctx)[:2] == (3, 3)
