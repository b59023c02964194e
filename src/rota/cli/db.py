"""``rota db upgrade`` (bring the schema to this rota's revision) and ``rota db backup`` (a
consistent copy of a live database, gzipped, keeping the newest N)."""

from __future__ import annotations

import contextlib
import gzip
import os
import shutil
import sqlite3
import subprocess
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import click

from rota.cli.backend import CommandError, load_app, sqlite_path

__all__ = ["db"]


@click.group()
def db() -> None:
    """The database: migrations and backups."""


def _url(database_url: str | None, app_spec: str | None) -> str:
    if database_url and app_spec:
        raise CommandError("options: give one of --database-url, --app, not both", 2)
    if app_spec:
        return load_app(app_spec).database_url
    if not database_url:
        raise CommandError(
            "database: give --database-url (or ROTA_DATABASE_URL), or --app module:attribute", 2
        )
    return database_url


def _store_options(function: click.decorators.FC) -> click.decorators.FC:
    function = click.option(
        "--app", "app_spec", default=None, metavar="MODULE:ATTR", help="The app's Rota's database."
    )(function)
    return click.option(
        "--database-url",
        envvar="ROTA_DATABASE_URL",
        default=None,
        metavar="URL",
        help="sqlite:///rota.db or postgresql://...; env ROTA_DATABASE_URL.",
    )(function)


@db.command("upgrade")
@_store_options
def upgrade_command(database_url: str | None, app_spec: str | None) -> None:
    """Create or migrate the schema to the revision this rota knows (it says from which to
    which). Every process does this when it opens the store; this does it ahead, e.g. in a
    deploy step."""
    from rota.store import _without_password
    from rota.store.dialect import create_engine, parse_url
    from rota.store.migrate import HEAD, current_revision, upgrade

    url = _url(database_url, app_spec)
    engine = create_engine(parse_url(url))
    shown = _without_password(url)
    try:
        with engine.connect() as connection:
            before = current_revision(connection)
        upgrade(engine)
    except Exception as error:
        from sqlalchemy.exc import DBAPIError

        if isinstance(error, DBAPIError):
            raise CommandError(f"database: {shown} cannot be used: {error.orig}") from None
        raise
    finally:
        engine.dispose()
    if before == HEAD:
        click.echo(f"{shown}: schema at revision {HEAD}, the newest; nothing to do")
    elif before is None:
        click.echo(f"{shown}: new schema created at revision {HEAD}")
    else:
        click.echo(f"{shown}: schema upgraded from revision {before} to {HEAD}")


@db.command("backup")
@_store_options
@click.option(
    "--to",
    "directory",
    required=True,
    type=click.Path(file_okay=False),
    help="The directory the backups go to (made if missing).",
)
@click.option(
    "--keep",
    type=click.IntRange(min=1),
    default=7,
    show_default=True,
    help="How many backups of this database to keep there (the newest).",
)
def backup_command(
    database_url: str | None, app_spec: str | None, directory: str, keep: int
) -> None:
    """A consistent copy of the live database, gzipped, named by the time; older ones beyond
    --keep are deleted.

    SQLite: through SQLite's online backup API (writers may go on meanwhile). PostgreSQL:
    through pg_dump (a plain SQL dump of the URL's database, or of its search_path schema),
    which must be on PATH.
    """
    url = _url(database_url, app_spec)
    target = Path(directory)
    target.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S-%f")
    path = sqlite_path(url)
    if path is not None:
        name = path.stem
        written = _sqlite_backup(path, target / f"{name}-{stamp}.db.gz")
        pattern = f"{name}-*.db.gz"
    elif url.partition(":")[0].partition("+")[0].lower() == "postgresql":
        name, written = _pg_backup(url, target, stamp)
        pattern = f"{name}-*.sql.gz"
    else:
        raise CommandError(f"database: {url!r} is neither a SQLite file nor PostgreSQL", 2)
    kept = sorted(target.glob(pattern))
    for old in kept[:-keep]:
        old.unlink()
    size = written.stat().st_size
    click.echo(f"{written} ({size:,} bytes); {min(len(kept), keep)} backups kept in {target}")


def _sqlite_backup(source: Path, written: Path) -> Path:
    if not source.exists():
        raise CommandError(f"database: {source} does not exist")
    copy = written.with_name(written.name.removesuffix(".gz") + ".part")
    try:
        with (
            contextlib.closing(sqlite3.connect(f"file:{source}?mode=ro", uri=True)) as db_from,
            contextlib.closing(sqlite3.connect(copy)) as db_to,
        ):
            db_from.backup(db_to)  # consistent, even while others write
        part = written.with_name(written.name + ".part")
        with copy.open("rb") as raw, gzip.open(part, "wb") as packed:
            shutil.copyfileobj(raw, packed)
        os.replace(part, written)
    except sqlite3.Error as error:
        raise CommandError(f"database: {source} cannot be backed up: {error}") from None
    finally:
        copy.unlink(missing_ok=True)
    return written


def _pg_backup(url: str, target: Path, stamp: str) -> tuple[str, Path]:
    from sqlalchemy.engine import make_url

    pg_dump = shutil.which("pg_dump")
    if pg_dump is None:
        raise CommandError(
            "backup: PostgreSQL is backed up with pg_dump, which is not on PATH (install the "
            "PostgreSQL client tools, e.g. Debian's postgresql-client)"
        )
    parsed = make_url(url).set(drivername="postgresql")
    options = parsed.query.get("options", "")
    schema = None
    for option in (options if isinstance(options, str) else " ".join(options)).split():
        if option.startswith("-csearch_path="):
            schema = option.removeprefix("-csearch_path=").split(",")[0]
    name = schema or parsed.database or "postgres"
    written = target / f"{name}-{stamp}.sql.gz"
    command = [pg_dump, "--no-owner", "--dbname", parsed.render_as_string(hide_password=False)]
    if schema:
        command += ["--schema", schema]
    part = written.with_name(written.name + ".part")
    # stderr to a file: a pipe nobody reads while stdout streams could fill and stall pg_dump
    with tempfile.TemporaryFile() as errors, gzip.open(part, "wb") as packed:
        with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=errors) as dump:
            if dump.stdout is not None:
                shutil.copyfileobj(dump.stdout, packed)  # streamed, never all in memory
        errors.seek(0)
        said = errors.read().decode(errors="replace").strip()
    if dump.returncode != 0:
        part.unlink()
        raise CommandError(f"backup: pg_dump failed (exit {dump.returncode}): {said}")
    os.replace(part, written)
    return name, written
