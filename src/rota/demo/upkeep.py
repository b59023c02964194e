"""The upkeep jobs: a consistent backup of the library (SQLite's online backup, gzip, keep the
last 7) and the weekly cleanup of old watch history."""

from __future__ import annotations

import contextlib
import gzip
import os
import sqlite3
from datetime import timedelta

from rota.demo.server import MediaServer
from rota.demo.sources import iso
from rota.engine.context import RunContext

__all__ = [
    "BACKUPS_KEPT",
    "HISTORY_KEPT_FOR",
    "PLAYS_KEPT_PER_USER",
    "database_backup",
    "history_cleanup",
]

BACKUPS_KEPT = 7
HISTORY_KEPT_FOR = timedelta(days=365)
PLAYS_KEPT_PER_USER = 400
CHUNK = 32 * 1024


def database_backup(ctx: RunContext, server: MediaServer) -> None:
    """Back up the library database: SQLite's online backup (consistent while the other jobs
    write), gzipped, the last 7 kept."""
    server.backups.mkdir(parents=True, exist_ok=True)
    stamp = server.now().strftime("%Y%m%d-%H%M%S")
    name = f"library-{stamp}-run{ctx.run.id:08d}.db"  # the run id orders backups of one second
    copy = server.backups / f"{name}.part"
    packing = server.backups / f"{name}.gz.part"  # a backup cut short is never one of the 7
    packed = server.backups / f"{name}.gz"
    try:
        source = sqlite3.connect(server.library.path, timeout=30)
        with contextlib.closing(source), contextlib.closing(sqlite3.connect(copy)) as target:
            # In one step: a backup in steps starts over whenever another connection writes,
            # and the source search writes ten times a second.
            source.backup(target)
        total = copy.stat().st_size
        with copy.open("rb") as raw, gzip.open(packing, "wb") as out:
            done = 0
            while chunk := raw.read(CHUNK):
                out.write(chunk)
                done += len(chunk)
                ctx.progress(done, total, "bytes compressed")
                server.work(ctx, 0.05)
        os.replace(packing, packed)
    finally:
        copy.unlink(missing_ok=True)
        packing.unlink(missing_ok=True)
    backups = sorted(server.backups.glob("library-*.db.gz"))
    for old in backups[:-BACKUPS_KEPT]:
        old.unlink()
        ctx.log.info("removed the old backup %s", old.name)
    ctx.log.info(
        "wrote %s (%.1f KiB); %d backups kept",
        packed.name,
        packed.stat().st_size / 1024,
        min(len(backups), BACKUPS_KEPT),
    )


def history_cleanup(ctx: RunContext, server: MediaServer) -> None:
    """Delete watch history older than a year or beyond each user's newest 400 plays, and what
    inactive users left behind."""
    now = server.now()
    steps = 3
    with server.library.connect() as db:
        old = db.execute(
            "DELETE FROM watch_events WHERE watched_at < ?", (iso(now - HISTORY_KEPT_FOR),)
        ).rowcount
        db.commit()
        ctx.progress(1, steps, "older than a year")
        server.work(ctx, 0.5)
        beyond = db.execute(
            "DELETE FROM watch_events WHERE id IN (SELECT id FROM (SELECT id, row_number()"
            " OVER (PARTITION BY user_id ORDER BY watched_at DESC, id DESC) AS newest"
            " FROM watch_events) WHERE newest > ?)",
            (PLAYS_KEPT_PER_USER,),
        ).rowcount
        db.commit()
        ctx.progress(2, steps, "beyond each user's newest plays")
        server.work(ctx, 0.5)
        left = db.execute(
            "DELETE FROM recommendations WHERE user_id IN (SELECT id FROM users WHERE active = 0)"
        ).rowcount
        ctx.progress(3, steps, "inactive users' recommendations")
    ctx.log.info(
        "deleted %d plays older than a year, %d beyond %d per user, %d recommendations of"
        " inactive users",
        old,
        beyond,
        PLAYS_KEPT_PER_USER,
        left,
    )
