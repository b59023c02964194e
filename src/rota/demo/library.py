"""The demo's sample media library: a SQLite file of its own (titles, users, watch events, and
what the jobs compute from them), generated on first start.

Generation is deterministic: the same seed, sizes and instant give the same rows, so a bug seen
in one demo can be seen again. Titles are `present` (a file in the library), `downloaded` (found
by the source search, not yet scanned) or `catalog` (known to the metadata source, not owned:
what discovery can ask for).
"""

from __future__ import annotations

import contextlib
import os
import random
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from rota.demo.sources import GENRES, invented_details, invented_title, iso, user_name

__all__ = ["ARTWORK", "DEFAULT_SEED", "SCHEMA", "Library", "Sizes", "generate", "open_library"]

DEFAULT_SEED = 2026
HISTORY_DAYS = 180  # the generated watch events lie in the days before the first start

SCHEMA = """
CREATE TABLE titles (
    id INTEGER PRIMARY KEY,
    title TEXT NOT NULL,
    kind TEXT NOT NULL,              -- movie | show
    year INTEGER NOT NULL,
    runtime INTEGER NOT NULL,        -- minutes
    genres TEXT NOT NULL,            -- comma-separated, from sources.GENRES
    state TEXT NOT NULL,             -- present | downloaded | catalog
    overview TEXT,                   -- NULL until enrich-metadata fetched it
    rating REAL,
    tmdb_id INTEGER,
    enriched_at TEXT,
    added_at TEXT,
    scanned_at TEXT,
    checksum TEXT
);
CREATE INDEX titles_state ON titles (state);
CREATE TABLE users (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    active INTEGER NOT NULL DEFAULT 1,
    synced_at TEXT
);
CREATE TABLE watch_events (
    id INTEGER PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users (id),
    title_id INTEGER NOT NULL REFERENCES titles (id),
    watched_at TEXT NOT NULL,
    completed REAL NOT NULL          -- the part watched, 0-1
);
CREATE INDEX watch_events_user ON watch_events (user_id, watched_at);
CREATE INDEX watch_events_time ON watch_events (watched_at);
CREATE TABLE embeddings (
    title_id INTEGER PRIMARY KEY REFERENCES titles (id),
    vector BLOB NOT NULL,            -- float32 values, sources.DIMENSIONS of them, unit length
    features TEXT NOT NULL,          -- what the vector was made from: redone when it changes
    computed_at TEXT NOT NULL
);
CREATE TABLE recommendations (
    user_id INTEGER NOT NULL REFERENCES users (id),
    rank INTEGER NOT NULL,
    title_id INTEGER NOT NULL REFERENCES titles (id),
    score REAL NOT NULL,
    computed_at TEXT NOT NULL,
    PRIMARY KEY (user_id, rank)
);
CREATE TABLE top_picks (
    rank INTEGER PRIMARY KEY,
    title_id INTEGER NOT NULL REFERENCES titles (id),
    plays INTEGER NOT NULL,
    score REAL NOT NULL,
    computed_at TEXT NOT NULL
);
CREATE TABLE collections (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    built_at TEXT NOT NULL
);
CREATE TABLE collection_items (
    collection_id INTEGER NOT NULL REFERENCES collections (id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    title_id INTEGER NOT NULL REFERENCES titles (id),
    PRIMARY KEY (collection_id, position)
);
CREATE TABLE wanted (
    title_id INTEGER PRIMARY KEY REFERENCES titles (id),
    score REAL NOT NULL,
    requested_for INTEGER NOT NULL,  -- how many users' tastes asked for it
    added_at TEXT NOT NULL,
    searched_at TEXT,
    searches INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE stats (
    name TEXT PRIMARY KEY,
    value REAL NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE TABLE state (                 -- the jobs' cursors: roster version, last import, ...
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"""
# Added after the first demo: made in libraries generated before it too.
ARTWORK = """
CREATE TABLE IF NOT EXISTS artwork (
    title_id INTEGER PRIMARY KEY REFERENCES titles (id),
    image BLOB NOT NULL,             -- the poster TMDb serves (SVG)
    fetched_at TEXT NOT NULL
);
"""


@dataclass(frozen=True)
class Sizes:
    """How big a generated library is: `titles` present, `catalog` known but not owned."""

    titles: int = 320
    catalog: int = 80
    users: int = 24
    events: int = 4000


@dataclass(frozen=True)
class Library:
    """The sample library's file and the seed it was generated from (the jobs' stand-ins for
    the outside world draw from the same seed)."""

    path: Path
    seed: int

    @contextlib.contextmanager
    def connect(self) -> Iterator[sqlite3.Connection]:
        """A connection that commits on success and rolls back on error, then closes. Jobs
        commit in small steps: a demo's sub-second poller writes here too."""
        db = sqlite3.connect(self.path, timeout=30)
        db.row_factory = sqlite3.Row
        db.execute("PRAGMA foreign_keys = ON")
        db.execute("PRAGMA synchronous = NORMAL")  # WAL: durable at checkpoints, fast commits
        try:
            with db:
                yield db
        finally:
            db.close()

    def counts(self) -> dict[str, int]:
        """Rows per table (and titles per state), for logs and tests."""
        with self.connect() as db:
            found = {
                table: db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
                for table in ("titles", "users", "watch_events", "embeddings", "wanted", "artwork")
            }
            for state, count in db.execute("SELECT state, count(*) FROM titles GROUP BY state"):
                found[f"titles:{state}"] = count
        return found


def open_library(
    path: Path, *, seed: int = DEFAULT_SEED, sizes: Sizes | None = None, now: datetime | None = None
) -> tuple[Library, bool]:
    """The library at `path`, generated first if the file does not exist; and whether it was.
    An existing library keeps the seed it was made with."""
    created = False
    if not path.exists():
        generate(path, seed=seed, sizes=sizes or Sizes(), now=now or datetime.now(UTC))
        created = True
    try:
        with contextlib.closing(sqlite3.connect(path)) as db:
            row = db.execute("SELECT value FROM state WHERE name = 'seed'").fetchone()
            if row is not None:
                db.executescript(ARTWORK)
    except sqlite3.DatabaseError as error:
        raise LibraryError(
            f"{path} is not a demo library ({error}): remove it to start afresh"
        ) from None
    if row is None:
        raise LibraryError(f"{path} is not a demo library (no seed): remove it to start afresh")
    return Library(path, int(row[0])), created


class LibraryError(Exception):
    """The library file cannot be used; the message says what to do."""


def generate(path: Path, *, seed: int, sizes: Sizes, now: datetime) -> None:
    """Write a new library to `path`: the same arguments give the same rows. The file appears
    whole or not at all (written beside, then renamed)."""
    rng = random.Random(seed)
    now = now.astimezone(UTC)
    part = path.with_name(path.name + ".part")
    part.unlink(missing_ok=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.closing(sqlite3.connect(part)) as db:
        db.execute("PRAGMA journal_mode = WAL")
        db.executescript(SCHEMA + ARTWORK)
        with db:
            _titles(db, rng, seed, sizes, now)
            user_ids = _users(db, sizes)
            _events(db, rng, user_ids, sizes, now)
            db.executemany(
                "INSERT INTO state (name, value) VALUES (?, ?)",
                [
                    ("seed", str(seed)),
                    ("base-users", str(sizes.users)),
                    ("plays-imported-until", iso(now)),
                ],
            )
    os.replace(part, path)


def _titles(
    db: sqlite3.Connection, rng: random.Random, seed: int, sizes: Sizes, now: datetime
) -> None:
    rows = []
    for index in range(1, sizes.titles + sizes.catalog + 1):
        owned = index <= sizes.titles
        kind = "show" if rng.random() < 0.3 else "movie"
        genres = ",".join(sorted(rng.sample(GENRES, rng.choice((1, 2, 2, 3)))))
        runtime = rng.randint(22, 60) if kind == "show" else rng.randint(80, 170)
        year = rng.randint(1965, now.year)
        # Most owned titles have their metadata; some wait for enrich-metadata to fetch it.
        details = invented_details(seed, index) if not owned or rng.random() < 0.85 else None
        added = now - timedelta(days=rng.uniform(HISTORY_DAYS, 3 * HISTORY_DAYS))
        rows.append(
            (
                index,
                invented_title(rng),
                kind,
                year,
                runtime,
                genres,
                "present" if owned else "catalog",
                None if details is None else details.overview,
                None if details is None else details.rating,
                None if details is None else details.tmdb_id,
                None if details is None else iso(added),
                iso(added) if owned else None,
            )
        )
    db.executemany(
        "INSERT INTO titles (id, title, kind, year, runtime, genres, state, overview, rating,"
        " tmdb_id, enriched_at, added_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        rows,
    )


def _users(db: sqlite3.Connection, sizes: Sizes) -> list[int]:
    ids = list(range(1, sizes.users + 1))
    db.executemany(
        "INSERT INTO users (id, name, active) VALUES (?, ?, 1)", [(i, user_name(i)) for i in ids]
    )
    return ids


def _events(
    db: sqlite3.Connection, rng: random.Random, user_ids: list[int], sizes: Sizes, now: datetime
) -> None:
    if not user_ids:
        return
    titles = [
        (row[0], set(row[1].split(",")))
        for row in db.execute("SELECT id, genres FROM titles WHERE state = 'present' ORDER BY id")
    ]
    if not titles:
        return
    # Each user likes two genres, and mostly watches those: recommendations have a taste to find.
    everything = [title for title, _ in titles]
    liked = {}
    for user in user_ids:
        taste = set(rng.sample(GENRES, 2))
        liked[user] = [title for title, genres in titles if genres & taste] or everything
    rows = []
    for _ in range(sizes.events):
        user = rng.choice(user_ids)
        title = rng.choice(liked[user] if rng.random() < 0.8 else everything)
        watched = now - timedelta(seconds=rng.uniform(0, HISTORY_DAYS * 86400))
        rows.append((user, title, iso(watched), rng.choice((1.0, 1.0, 0.9, 0.4))))
    rows.sort(key=lambda row: row[2])
    db.executemany(
        "INSERT INTO watch_events (user_id, title_id, watched_at, completed) VALUES (?, ?, ?, ?)",
        rows,
    )
