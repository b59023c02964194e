"""The jobs that learn from what users watch: embeddings (a small vector per title),
recommendations per user, the library's top picks, discovery of wanted titles, and the
library's collections."""

from __future__ import annotations

import math
import sqlite3
from array import array
from collections import Counter, defaultdict
from datetime import timedelta

from rota.demo.server import MediaServer
from rota.demo.sources import GENRES, iso
from rota.engine.context import RunContext
from rota.outcomes import Skip

__all__ = [
    "DIMENSIONS",
    "discovery",
    "embeddings",
    "features",
    "library_build",
    "recommendations",
    "top_picks",
]

DIMENSIONS = len(GENRES) + 4
RECOMMENDED = 10  # per user
PICKS = 20
COLLECTION_SIZE = 20
TASTE_EVENTS = 300  # a taste is made of a user's newest plays


def features(title: sqlite3.Row) -> list[float]:
    """What a title's vector is made of: its genres, era, rating, length and kind."""
    genres = set(title["genres"].split(","))
    values = [1.0 if genre in genres else 0.0 for genre in GENRES]
    rating = title["rating"] if title["rating"] is not None else 6.0
    values += [
        (title["year"] - 1960) / 140,
        rating / 20,
        title["runtime"] / 400,
        0.3 if title["kind"] == "show" else 0.0,
    ]
    return values


def _unit(values: list[float]) -> list[float]:
    length = math.sqrt(sum(v * v for v in values))
    return [v / length for v in values] if length else values


def _dot(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


def embeddings(ctx: RunContext, server: MediaServer) -> None:
    """Compute a small vector for every title whose features changed since the last run."""
    with server.library.connect() as db:
        titles = db.execute(
            "SELECT t.*, e.features AS stored FROM titles t"
            " LEFT JOIN embeddings e ON e.title_id = t.id ORDER BY t.id"
        ).fetchall()
        todo = [(title, features(title)) for title in titles]
        todo = [(title, found) for title, found in todo if title["stored"] != repr(found)]
        for index, (title, found) in enumerate(todo, start=1):
            vector = array("f", _unit(found)).tobytes()
            db.execute(
                "INSERT INTO embeddings (title_id, vector, features, computed_at)"
                " VALUES (?, ?, ?, ?) ON CONFLICT (title_id) DO UPDATE SET"
                " vector = excluded.vector, features = excluded.features,"
                " computed_at = excluded.computed_at",
                (title["id"], vector, repr(found), iso(server.now())),
            )
            if index % 10 == 0 or index == len(todo):
                db.commit()
                ctx.progress(index, len(todo), title["title"])
                server.work(ctx, 0.1)
    ctx.log.info(
        "embedded %d titles in %d dimensions; %d unchanged",
        len(todo),
        DIMENSIONS,
        len(titles) - len(todo),
    )


def _vectors(db: sqlite3.Connection, states: tuple[str, ...]) -> dict[int, list[float]]:
    rows = db.execute(
        "SELECT e.title_id, e.vector FROM embeddings e JOIN titles t ON t.id = e.title_id"
        f" WHERE t.state IN ({', '.join('?' for _ in states)})",
        states,
    )
    return {row[0]: list(array("f", row[1])) for row in rows}


def _tastes(db: sqlite3.Connection, known: dict[int, list[float]]) -> dict[int, list[float]]:
    """Each active user's taste: their newest plays' vectors, weighted by the part watched."""
    tastes: dict[int, list[float]] = {}
    for (user,) in db.execute("SELECT id FROM users WHERE active = 1 ORDER BY id").fetchall():
        total = [0.0] * DIMENSIONS
        plays = db.execute(
            "SELECT title_id, completed FROM watch_events WHERE user_id = ?"
            " ORDER BY watched_at DESC LIMIT ?",
            (user, TASTE_EVENTS),
        )
        for title, completed in plays:
            vector = known.get(title)
            if vector is not None:
                total = [t + completed * v for t, v in zip(total, vector, strict=True)]
        if any(total):
            tastes[user] = _unit(total)
    return tastes


def recommendations(ctx: RunContext, server: MediaServer) -> None:
    """Recommend each user the unwatched titles nearest to their taste."""
    with server.library.connect() as db:
        vectors = _vectors(db, ("present",))
        if not vectors:
            raise Skip("no embeddings yet: the embeddings job makes them")
        watched = vectors | _vectors(db, ("catalog", "downloaded"))
        tastes = _tastes(db, watched)
        for index, (user, taste) in enumerate(tastes.items(), start=1):
            seen = {
                r[0]
                for r in db.execute("SELECT title_id FROM watch_events WHERE user_id = ?", (user,))
            }
            scored = sorted(
                (
                    (_dot(taste, vector), title)
                    for title, vector in vectors.items()
                    if title not in seen
                ),
                reverse=True,
            )[:RECOMMENDED]
            db.execute("DELETE FROM recommendations WHERE user_id = ?", (user,))
            db.executemany(
                "INSERT INTO recommendations (user_id, rank, title_id, score, computed_at)"
                " VALUES (?, ?, ?, ?, ?)",
                [
                    (user, rank, title, round(score, 4), iso(server.now()))
                    for rank, (score, title) in enumerate(scored, start=1)
                ],
            )
            db.commit()
            ctx.progress(index, len(tastes), f"user {user}")
            server.work(ctx, 0.3)
        db.execute(
            "DELETE FROM recommendations WHERE user_id NOT IN"
            " (SELECT id FROM users WHERE active = 1)"
        )
    ctx.log.info("recommended up to %d titles to each of %d users", RECOMMENDED, len(tastes))


def top_picks(ctx: RunContext, server: MediaServer) -> None:
    """Pick the library's home row: the most watched titles of the past week."""
    now = server.now()
    with server.library.connect() as db:
        since = iso(now - timedelta(days=7))
        window = "the past week"
        plays = db.execute(
            "SELECT title_id, count(*), avg(completed) FROM watch_events WHERE watched_at >= ?"
            " GROUP BY title_id",
            (since,),
        ).fetchall()
        if sum(row[1] for row in plays) < PICKS:
            window = "all time (few plays this week)"
            plays = db.execute(
                "SELECT title_id, count(*), avg(completed) FROM watch_events GROUP BY title_id"
            ).fetchall()
        ctx.progress(1, 3, "plays counted")
        server.work(ctx, 0.5)
        ratings = dict(
            db.execute("SELECT id, rating FROM titles WHERE state = 'present'").fetchall()
        )
        scored = sorted(
            (
                (count * completed + (ratings[title] or 5.0) / 2, title, count)
                for title, count, completed in plays
                if title in ratings
            ),
            reverse=True,
        )[:PICKS]
        ctx.progress(2, 3, "titles scored")
        server.work(ctx, 0.5)
        db.execute("DELETE FROM top_picks")
        db.executemany(
            "INSERT INTO top_picks (rank, title_id, plays, score, computed_at)"
            " VALUES (?, ?, ?, ?, ?)",
            [
                (rank, title, count, round(score, 3), iso(now))
                for rank, (score, title, count) in enumerate(scored, start=1)
            ],
        )
        ctx.progress(3, 3, "top picks written")
    ctx.log.info("picked %d titles from the plays of %s", len(scored), window)


def discovery(ctx: RunContext, server: MediaServer) -> None:
    """Find titles the library lacks that users would like; they become wanted titles that
    the source search looks for."""
    with server.library.connect() as db:
        catalog = db.execute("SELECT count(*) FROM titles WHERE state = 'catalog'").fetchone()[0]
        if not catalog:
            ctx.log.info("nothing to discover: every catalog title is in the library or found")
            return
        candidates = _vectors(db, ("catalog",))
        if not candidates:
            raise Skip("no embeddings yet: the embeddings job makes them")
        tastes = _tastes(db, candidates | _vectors(db, ("present", "downloaded")))
        if not tastes:
            raise Skip("no tastes yet: users need plays and titles need embeddings")
        found: dict[int, tuple[float, int]] = {}
        for index, taste in enumerate(tastes.values(), start=1):
            best = sorted(
                ((_dot(taste, vector), title) for title, vector in candidates.items()),
                reverse=True,
            )[:3]
            for score, title in best:
                top, count = found.get(title, (0.0, 0))
                found[title] = (max(top, score), count + 1)
            ctx.progress(index, len(tastes), "tastes compared")
            server.work(ctx, 0.1)
        before = {r[0] for r in db.execute("SELECT title_id FROM wanted")}
        db.executemany(
            "INSERT INTO wanted (title_id, score, requested_for, added_at) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (title_id) DO UPDATE SET score = excluded.score,"
            " requested_for = excluded.requested_for",
            [
                (title, round(score, 4), count, iso(server.now()))
                for title, (score, count) in found.items()
            ],
        )
    ctx.log.info(
        "%d titles wanted by %d users' tastes, %d of them new",
        len(found),
        len(tastes),
        len(found.keys() - before),
    )


def library_build(ctx: RunContext, server: MediaServer) -> None:
    """Rebuild the library's collections: the best of each genre, and recently added."""
    with server.library.connect() as db:
        plays = Counter(
            dict(db.execute("SELECT title_id, count(*) FROM watch_events GROUP BY title_id"))
        )
        titles = db.execute(
            "SELECT id, genres, rating, added_at FROM titles WHERE state = 'present'"
        ).fetchall()
        by_genre: defaultdict[str, list[sqlite3.Row]] = defaultdict(list)
        for title in titles:
            for genre in title["genres"].split(","):
                by_genre[genre].append(title)
        collections: dict[str, list[sqlite3.Row]] = {}
        groups = [*(f"Best of {genre}" for genre in sorted(by_genre)), "Recently added"]
        for index, name in enumerate(groups, start=1):
            if name == "Recently added":
                members = sorted(titles, key=lambda t: (t["added_at"] or "", t["id"]), reverse=True)
            else:
                members = sorted(
                    by_genre[name.removeprefix("Best of ")],
                    key=lambda t: (-plays[t["id"]], -(t["rating"] or 0), t["id"]),
                )
            collections[name] = members[:COLLECTION_SIZE]
            ctx.progress(index, len(groups) + 1, name)
            server.work(ctx, 0.2)
        # One short transaction: a reader never sees the collections half rebuilt.
        db.execute("DELETE FROM collection_items")
        db.execute("DELETE FROM collections")
        for name, members in collections.items():
            cursor = db.execute(
                "INSERT INTO collections (name, built_at) VALUES (?, ?)",
                (name, iso(server.now())),
            )
            db.executemany(
                "INSERT INTO collection_items (collection_id, position, title_id) VALUES (?, ?, ?)",
                [(cursor.lastrowid, position, t["id"]) for position, t in enumerate(members, 1)],
            )
        ctx.progress(len(groups) + 1, len(groups) + 1, "collections written")
    ctx.log.info("built %d collections of up to %d titles", len(collections), COLLECTION_SIZE)
