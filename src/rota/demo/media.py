"""The media server's own jobs: user sync, watch-history import, library scan (which spawns the
artwork fetches), the continuous source search and the stats update. Each does its real, small
work on the sample library, reports progress and logs what it did."""

from __future__ import annotations

import hashlib
import sqlite3
from datetime import datetime, timedelta

from rota.demo.metadata import ARTWORK_JOB
from rota.demo.server import MediaServer, read_state, write_state
from rota.demo.sources import iso, new_plays, searches_to_find, server_accounts
from rota.engine.context import RunContext

__all__ = [
    "library_scan",
    "source_search",
    "stats_update",
    "sync_users",
    "watch_history",
]


def sync_users(ctx: RunContext, server: MediaServer) -> None:
    """Sync user accounts from the media server: add new ones, mark disabled ones inactive."""
    with server.library.connect() as db:
        version = int(read_state(db, "roster-version", "0")) + 1
        base = int(read_state(db, "base-users", "0"))
        accounts = server_accounts(server.seed, version, base)
        known = {row["name"]: bool(row["active"]) for row in db.execute("SELECT * FROM users")}
        added = changed = 0
        now = iso(server.now())
        for index, account in enumerate(accounts, start=1):
            if account.name not in known:
                added += 1
                db.execute(
                    "INSERT INTO users (name, active, synced_at) VALUES (?, ?, ?)",
                    (account.name, int(account.active), now),
                )
            else:
                changed += known[account.name] != account.active
                db.execute(
                    "UPDATE users SET active = ?, synced_at = ? WHERE name = ?",
                    (int(account.active), now, account.name),
                )
            db.commit()
            ctx.progress(index, len(accounts), account.name)
            server.work(ctx, 0.1)
        names = [account.name for account in accounts]
        gone = db.execute(
            f"UPDATE users SET active = 0 WHERE active = 1 AND name NOT IN ({_marks(names)})",
            names,
        ).rowcount
        write_state(db, "roster-version", str(version))
    inactive = sum(not account.active for account in accounts)
    ctx.log.info(
        "synced %d accounts: %d new, %d changed, %d gone, %d inactive",
        len(accounts),
        added,
        changed,
        gone,
        inactive,
    )


def watch_history(ctx: RunContext, server: MediaServer) -> None:
    """Import the plays the media server's clients reported since the last import."""
    now = server.now()
    with server.library.connect() as db:
        since = datetime.fromisoformat(read_state(db, "plays-imported-until", iso(now)))
        batch = int(read_state(db, "plays-batch", "0")) + 1
        users = [r[0] for r in db.execute("SELECT id FROM users WHERE active = 1 ORDER BY id")]
        titles = [r[0] for r in db.execute("SELECT id FROM titles WHERE state = 'present'")]
        plays = new_plays(server.seed, batch, users, sorted(titles), since, now)
        for index in range(10, len(plays) + 10, 10):  # the server sends them in pages
            ctx.progress(min(index, len(plays)), len(plays), "plays received")
            server.work(ctx, 0.3)
        # The plays and the cursor in one transaction: a failed import is redone whole.
        db.executemany(
            "INSERT INTO watch_events (user_id, title_id, watched_at, completed)"
            " VALUES (?, ?, ?, ?)",
            [(user, title, iso(when), part) for user, title, when, part in plays],
        )
        write_state(db, "plays-imported-until", iso(max(now, since)))
        write_state(db, "plays-batch", str(batch))
    viewers = len({play[0] for play in plays})
    ctx.log.info("imported %d plays of %d users since %s", len(plays), viewers, iso(since))


def library_scan(ctx: RunContext, server: MediaServer, full: bool = False) -> None:
    """Scan the library for new and changed items: downloads become library titles, and each
    title without a poster gets a fetch-artwork run.

    By default only the items that may have changed are read: downloads, items never scanned,
    and items whose metadata was refreshed since their last scan. `full=True` rescans every
    item, which also finds changes made behind the server's back.
    """
    with server.library.connect() as db:
        everything = _count(
            db, "SELECT count(*) FROM titles WHERE state IN ('present', 'downloaded')"
        )
        which = "" if full else f" AND ({_MAY_HAVE_CHANGED})"
        titles = db.execute(
            f"SELECT * FROM titles WHERE state IN ('present', 'downloaded'){which} ORDER BY id"
        ).fetchall()
        added: list[str] = []
        changed = 0
        ctx.progress(0, len(titles))
        for index, title in enumerate(titles, start=1):
            checksum = _checksum(title)
            now = iso(server.now())
            if title["state"] == "downloaded":
                added.append(title["title"])
                db.execute(
                    "UPDATE titles SET state = 'present', added_at = ? WHERE id = ?",
                    (now, title["id"]),
                )
            elif title["checksum"] is not None and title["checksum"] != checksum:
                changed += 1
            db.execute(
                "UPDATE titles SET scanned_at = ?, checksum = ? WHERE id = ?",
                (now, checksum, title["id"]),
            )
            db.commit()  # at once: the sub-second source search writes here too
            ctx.progress(index, len(titles), title["title"])
            server.work(ctx, 0.04)
        # Titles TMDb has matched but whose poster was never fetched: one run each, by key,
        # so that a scan while earlier fetches still wait adds none twice.
        posterless = db.execute(
            "SELECT id FROM titles WHERE state = 'present' AND tmdb_id IS NOT NULL"
            " AND id NOT IN (SELECT title_id FROM artwork) ORDER BY id"
        ).fetchall()
    for (title_id,) in posterless:
        ctx.spawn(ARTWORK_JOB, key=f"title:{title_id}", title_id=title_id)
    for name in added:
        ctx.log.info("added %s (downloaded by the source search)", name)
    what = (
        f"rescanned all {len(titles)} items"
        if full
        else (f"scanned {len(titles)} new or changed items of {everything}")
    )
    ctx.log.info("%s: %d new, %d changed", what, len(added), changed)
    if posterless:
        ctx.log.info("asked for the posters of %d titles (%s runs)", len(posterless), ARTWORK_JOB)


# Items a scan of changes reads: downloads, never scanned, or enriched since their last scan.
_MAY_HAVE_CHANGED = (
    "state = 'downloaded' OR scanned_at IS NULL OR checksum IS NULL"
    " OR (enriched_at IS NOT NULL AND enriched_at > scanned_at)"
)


def source_search(ctx: RunContext, server: MediaServer) -> None:
    """Search the indexers for the next wanted title (continuously: one title per run)."""
    with server.library.connect() as db:
        wanted = db.execute(
            "SELECT w.title_id, w.searches, t.title FROM wanted w JOIN titles t"
            " ON t.id = w.title_id ORDER BY w.searched_at IS NOT NULL, w.searched_at, w.title_id"
            " LIMIT 1"
        ).fetchone()
        if wanted is None:
            ctx.log.info("nothing wanted: discovery adds wanted titles")
            return
        searches = wanted["searches"] + 1
        ctx.progress(1, 1, wanted["title"])
        if searches >= searches_to_find(server.seed, wanted["title_id"]):
            db.execute("DELETE FROM wanted WHERE title_id = ?", (wanted["title_id"],))
            db.execute("UPDATE titles SET state = 'downloaded' WHERE id = ?", (wanted["title_id"],))
            ctx.log.info(
                "found %s after %d searches: downloaded; the next library scan adds it",
                wanted["title"],
                searches,
            )
            return
        db.execute(
            "UPDATE wanted SET searches = ?, searched_at = ? WHERE title_id = ?",
            (searches, iso(server.now()), wanted["title_id"]),
        )
    ctx.log.info("searched for %s: not found yet (%d searches)", wanted["title"], searches)


def stats_update(ctx: RunContext, server: MediaServer) -> None:
    """Update the dashboard's numbers: titles, users, plays today, wanted, backups."""
    now = server.now()
    with server.library.connect() as db:
        values = {
            "titles": _count(db, "SELECT count(*) FROM titles WHERE state = 'present'"),
            "users": _count(db, "SELECT count(*) FROM users WHERE active = 1"),
            "plays_24h": _count(
                db,
                "SELECT count(*) FROM watch_events WHERE watched_at >= ?",
                iso(now - timedelta(days=1)),
            ),
            "wanted": _count(db, "SELECT count(*) FROM wanted"),
            "downloaded": _count(db, "SELECT count(*) FROM titles WHERE state = 'downloaded'"),
            "backups": len(list(server.backups.glob("library-*.db.gz"))),
        }
        ctx.progress(len(values), len(values), "numbers counted")
        db.executemany(
            "INSERT INTO stats (name, value, updated_at) VALUES (?, ?, ?) ON CONFLICT (name)"
            " DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
            [(name, value, iso(now)) for name, value in values.items()],
        )
    ctx.log.info(", ".join(f"{name} {value}" for name, value in values.items()))


def _checksum(title: sqlite3.Row) -> str:
    fields = (title["title"], title["year"], title["runtime"], title["overview"], title["rating"])
    return hashlib.sha1(repr(fields).encode(), usedforsecurity=False).hexdigest()[:16]


def _count(db: sqlite3.Connection, query: str, *values: object) -> int:
    return int(db.execute(query, values).fetchone()[0])


def _marks(values: list[str]) -> str:
    return ", ".join("?" for _ in values) or "NULL"
