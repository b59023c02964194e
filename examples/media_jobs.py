"""A media server's background jobs, on short schedules, with a live table in the terminal.

    ./scripts/demo                      # or: .venv/bin/python examples/media_jobs.py
    ./scripts/demo --duration 20 --plain

You will see the jobs (next fire time, last status, duration) and the latest runs with their
progress: user sync every 10 s, a library scan with progress every 30 s, a backup that really
copies and gzips the SQLite database and keeps the last 7, and a metadata refresh that fails its
first attempt and is retried. Ctrl-C stops it gracefully: running jobs get 10 s to finish.
Everything lives in .demo/ (the database rota.db and backups/).
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import logging
import shutil
import sqlite3
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

from rota import Retry, Rota

parser = argparse.ArgumentParser(description="rota's media-server demo")
parser.add_argument("--data", type=Path, default=Path(".demo"), help="where the database lives")
parser.add_argument("--duration", type=float, default=None, help="stop after this many seconds")
parser.add_argument("--plain", action="store_true", help="print lines instead of a live table")
options = parser.parse_args()
options.data.mkdir(parents=True, exist_ok=True)
DATABASE = options.data / "rota.db"
BACKUPS = options.data / "backups"

rota = Rota(f"sqlite:///{DATABASE}", timezone="UTC", workers=4)
log = logging.getLogger("demo")


@rota.job("sync-users", schedule="every 10s", description="Sync users from the media server")
async def sync_users(ctx) -> None:  # type: ignore[no-untyped-def]
    await asyncio.sleep(0.5)  # stands in for an HTTP call
    ctx.log.info("synced %d users", 12)


@rota.job("library-scan", schedule="every 30s", timeout="25s")
def library_scan(ctx) -> None:  # type: ignore[no-untyped-def]
    """Scan the library for new and changed items."""
    items = [f"Movie {n}" for n in range(1, 41)]
    for index, title in enumerate(items, start=1):
        if ctx.cancelled:
            ctx.log.warning("stopped after %d items", index - 1)
            return
        time.sleep(0.1)  # stands in for reading a file's metadata
        ctx.progress(index, len(items), title)
    ctx.log.info("scanned %d items", len(items))


@rota.job("database-backup", schedule="every 20s", overlap="skip")
def database_backup(ctx) -> None:  # type: ignore[no-untyped-def]
    """Copy the database consistently, gzip it, keep the last 7."""
    BACKUPS.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S-%f")
    copy = BACKUPS / f"rota-{stamp}.db"
    with sqlite3.connect(DATABASE) as source, sqlite3.connect(copy) as target:
        source.backup(target)  # a consistent copy even while rota writes
    with copy.open("rb") as raw, gzip.open(f"{copy}.gz", "wb") as packed:
        shutil.copyfileobj(raw, packed)
    copy.unlink()
    kept = sorted(BACKUPS.glob("rota-*.db.gz"))
    for old in kept[:-7]:
        old.unlink()
    ctx.log.info("wrote %s.gz; %d backups kept", copy.name, min(len(kept), 7))


@rota.job("refresh-metadata", schedule="every 15s", retry=Retry(3, backoff="2s"))
def refresh_metadata(ctx) -> None:  # type: ignore[no-untyped-def]
    """Refresh metadata from TMDb (the first attempt always times out, to show retries)."""
    if ctx.run.attempt == 1:
        raise ConnectionError("TMDb did not answer within 10 s")
    ctx.log.info("refreshed 30 titles on attempt %d", ctx.run.attempt)


def ago(then: datetime | None, now: datetime) -> str:
    if then is None:
        return "-"
    seconds = (then - now).total_seconds()
    return f"in {seconds:.0f} s" if seconds >= 0 else f"{-seconds:.0f} s ago"


def table():  # type: ignore[no-untyped-def]
    from rich.console import Group
    from rich.table import Table

    now = datetime.now(UTC)
    jobs = Table(title="jobs", expand=True)
    for column in ("job", "schedule", "next run", "last status", "duration"):
        jobs.add_column(column)
    for job in rota.jobs():
        last = job.last_run
        duration = last.duration if last is not None else None
        jobs.add_row(
            job.name,
            job.schedule.describe(),
            ago(job.next_fire_at, now),
            "-" if last is None else last.status.value,
            "-" if duration is None else f"{duration.total_seconds():.1f} s",
        )
    runs = Table(title="latest runs", expand=True)
    for column in ("id", "job", "reason", "status", "attempt", "progress", "note / error"):
        runs.add_column(column)
    for run in rota.runs(limit=12):
        progress = ""
        if run.progress_done is not None:
            total = f"/{run.progress_total:.0f}" if run.progress_total else ""
            progress = f"{run.progress_done:.0f}{total} {run.progress_note or ''}"
        runs.add_row(
            str(run.id),
            run.job,
            run.reason.value,
            run.status.value,
            str(run.attempt),
            progress,
            run.error or run.note or "",
        )
    return Group(jobs, runs)


def main() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    stop = threading.Event()
    deadline = None if options.duration is None else time.monotonic() + options.duration
    rota.start()
    print(f"rota demo on {DATABASE}: Ctrl-C stops it")
    try:
        if options.plain:
            shown: dict[int, str] = {}
            while not stop.wait(0.5) and (deadline is None or time.monotonic() < deadline):
                for run in reversed(rota.runs(limit=20)):
                    if shown.get(run.id) != run.status.value:
                        shown[run.id] = run.status.value
                        detail = run.error or run.note or ""
                        print(
                            f"run {run.id:>4} {run.job:<17} {run.reason.value:<9} "
                            f"{run.status.value:<10} {detail}"
                        )
        else:
            from rich.live import Live

            with Live(table(), refresh_per_second=4) as live:
                while not stop.wait(0.25) and (deadline is None or time.monotonic() < deadline):
                    live.update(table())
    except KeyboardInterrupt:
        print("stopping: running jobs get 10 s to finish")
    finally:
        rota.stop(grace=10)
    print(f"stopped; {len(rota.runs(limit=10_000))} runs recorded in {DATABASE}")


if __name__ == "__main__":
    main()
