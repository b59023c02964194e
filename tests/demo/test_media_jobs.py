"""The media server's jobs do their real work on a tiny library, report progress and log it
(the jobs that call TMDb: test_metadata_jobs)."""

from __future__ import annotations

from datetime import timedelta

from rota.demo import media, metadata
from rota.demo.server import MediaServer
from rota.demo.sources import iso, searches_to_find, server_accounts
from rota.testing import FakeClock
from tests.demo.conftest import TINY, log, progress, run


def test_sync_users_adds_new_accounts_and_marks_disabled_ones(server: MediaServer) -> None:
    for _ in range(8):  # the server has one more account every fourth sync
        ctx = run(media.sync_users, server)
    accounts = server_accounts(server.seed, 8, TINY.users)
    assert len(accounts) == TINY.users + 2
    with server.library.connect() as db:
        users = {row["name"]: bool(row["active"]) for row in db.execute("SELECT * FROM users")}
        synced = db.execute("SELECT count(*) FROM users WHERE synced_at IS NULL").fetchone()[0]
    assert users == {account.name: account.active for account in accounts}
    assert synced == 0
    assert progress(ctx) == (len(accounts), len(accounts), accounts[-1].name)
    assert f"synced {len(accounts)} accounts" in log(ctx)


def test_watch_history_imports_the_plays_since_the_last_import(
    server: MediaServer, clock: FakeClock
) -> None:
    before = server.library.counts()["watch_events"]
    run(media.watch_history, server)  # no time has passed since the library was made
    assert server.library.counts()["watch_events"] == before

    since = clock.now()
    clock.advance(timedelta(hours=2))
    ctx = run(media.watch_history, server)
    with server.library.connect() as db:
        new = db.execute(
            "SELECT watched_at FROM watch_events WHERE watched_at >= ?", (iso(since),)
        ).fetchall()
    assert 20 <= len(new) <= 60
    assert all(row[0] <= iso(clock.now()) for row in new)
    assert server.library.counts()["watch_events"] == before + len(new)
    assert progress(ctx)[:2] == (len(new), len(new))
    assert f"imported {len(new)} plays" in log(ctx)


def test_library_scan_adds_downloads_and_counts_changes(server: MediaServer) -> None:
    with server.library.connect() as db:
        db.execute("UPDATE titles SET state = 'downloaded' WHERE id = 35")  # a catalog title
    first = run(media.library_scan, server)  # nothing scanned yet: every item is read
    assert "scanned 31 new or changed items of 31: 1 new, 0 changed" in log(first)
    assert "added " in log(first)
    with server.library.connect() as db:
        state, added = db.execute("SELECT state, added_at FROM titles WHERE id = 35").fetchone()
        unscanned = db.execute(
            "SELECT count(*) FROM titles WHERE state = 'present' AND checksum IS NULL"
        ).fetchone()[0]
        db.execute("UPDATE titles SET rating = 1.0 WHERE id = 3")  # behind the server's back
        db.execute("UPDATE titles SET state = 'downloaded' WHERE id = 36")
    assert (state, added is not None, unscanned) == ("present", True, 0)
    second = run(media.library_scan, server)  # the download only: the edit goes unseen
    assert "scanned 1 new or changed items of 32: 1 new, 0 changed" in log(second)
    assert progress(second)[:2] == (1, 1)
    full = run(media.library_scan, server, full=True)  # a full rescan reads every item
    assert "rescanned all 32 items: 0 new, 1 changed" in log(full)
    assert progress(full)[:2] == (32, 32)


def test_library_scan_reads_items_enriched_since_their_last_scan(
    server: MediaServer, clock: FakeClock
) -> None:
    run(media.library_scan, server)
    clock.advance(timedelta(minutes=1))
    run(metadata.enrich_metadata, server)
    with server.library.connect() as db:
        enriched = db.execute(
            "SELECT count(*) FROM titles WHERE state = 'present' AND enriched_at > scanned_at"
        ).fetchone()[0]
    assert enriched > 0
    again = run(media.library_scan, server)
    assert f"scanned {enriched} new or changed items of 30" in log(again)


def test_source_search_finds_a_wanted_title_after_enough_searches(server: MediaServer) -> None:
    run(media.source_search, server)  # nothing wanted: nothing to do
    with server.library.connect() as db:
        db.execute(
            "INSERT INTO wanted (title_id, score, requested_for, added_at) VALUES (38, 1, 1, '')"
        )
    needed = searches_to_find(server.seed, 38)
    for _ in range(needed - 1):
        ctx = run(media.source_search, server)
    assert f"not found yet ({needed - 1} searches)" in log(ctx)
    ctx = run(media.source_search, server)
    assert f"after {needed} searches: downloaded" in log(ctx)
    assert progress(ctx)[:2] == (1, 1)
    with server.library.connect() as db:
        assert db.execute("SELECT state FROM titles WHERE id = 38").fetchone()[0] == "downloaded"
        assert db.execute("SELECT count(*) FROM wanted").fetchone()[0] == 0


def test_stats_update_writes_the_dashboards_numbers(server: MediaServer) -> None:
    server.backups.mkdir()
    (server.backups / "library-1.db.gz").write_bytes(b"")
    ctx = run(media.stats_update, server)
    with server.library.connect() as db:
        stats = {row["name"]: row["value"] for row in db.execute("SELECT * FROM stats")}
    assert stats["titles"] == TINY.titles
    assert stats["users"] == TINY.users
    assert stats["backups"] == 1
    with server.library.connect() as db:
        day = db.execute(
            "SELECT count(*) FROM watch_events WHERE watched_at >= ?",
            (iso(server.now() - timedelta(days=1)),),
        ).fetchone()[0]
    assert stats["plays_24h"] == day
    assert f"titles {TINY.titles}, users {TINY.users}" in log(ctx)
    assert progress(ctx) == (6, 6, "numbers counted")
