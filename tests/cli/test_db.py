"""``rota db upgrade`` and ``rota db backup`` on SQLite and PostgreSQL."""

from __future__ import annotations

import contextlib
import gzip
import sqlite3
from pathlib import Path

import pytest

from rota import Rota
from rota.store.migrate import HEAD
from tests.cli.conftest import invoke
from tests.postgres import fresh_schema_url, shown


@pytest.fixture
def new_postgres_url() -> object:
    yield from fresh_schema_url()


def test_upgrade_creates_then_finds_the_schema_current(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/new.db"
    first = invoke("db", "upgrade", "--database-url", url)
    assert first.exit_code == 0, first.output
    assert first.stdout == f"{url}: new schema created at revision {HEAD}\n"
    again = invoke("db", "upgrade", env={"ROTA_DATABASE_URL": url})
    assert again.stdout == f"{url}: schema at revision {HEAD}, the newest; nothing to do\n"


def test_upgrade_says_from_which_revision(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/old.db"
    from alembic import command

    from rota.store.dialect import create_engine as rota_engine
    from rota.store.dialect import parse_url
    from rota.store.migrate import alembic_config

    engine = rota_engine(parse_url(url))
    with engine.begin() as connection:
        command.upgrade(alembic_config(connection), "0003")
    engine.dispose()
    result = invoke("db", "upgrade", "--database-url", url)
    assert result.exit_code == 0, result.output
    assert result.stdout == f"{url}: schema upgraded from revision 0003 to {HEAD}\n"


def test_upgrade_on_postgresql(new_postgres_url: str) -> None:
    result = invoke("db", "upgrade", "--database-url", new_postgres_url)
    assert result.exit_code == 0, result.output
    assert result.stdout == f"{shown(new_postgres_url)}: new schema created at revision {HEAD}\n"


def test_upgrade_needs_a_database() -> None:
    result = invoke("db", "upgrade")
    assert result.exit_code == 2
    assert result.stderr.startswith("error: database: give --database-url")


def test_backup_of_sqlite_is_a_gzipped_consistent_copy_keeping_the_newest(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/app.db"
    rota = Rota(url)
    rota.add_job("kept", "tests.cli.app:make_rota")
    rota.close()
    made = []
    for _ in range(3):
        result = invoke(
            "db", "backup", "--database-url", url, "--to", str(tmp_path / "b"), "--keep", "2"
        )
        assert result.exit_code == 0, result.output
        made.append(Path(result.stdout.split()[0]))
    kept = sorted((tmp_path / "b").iterdir())
    assert kept == made[1:]
    assert result.stdout.endswith(f"2 backups kept in {tmp_path / 'b'}\n")
    copy = tmp_path / "copy.db"
    copy.write_bytes(gzip.decompress(kept[-1].read_bytes()))
    with contextlib.closing(sqlite3.connect(copy)) as db:
        assert ("kept",) in db.execute("SELECT name FROM jobs").fetchall()


def test_backup_of_a_missing_sqlite_file_fails(tmp_path: Path) -> None:
    result = invoke(
        "db", "backup", "--database-url", f"sqlite:///{tmp_path}/none.db", "--to", str(tmp_path)
    )
    assert result.exit_code == 1
    assert result.stderr == f"error: database: {tmp_path}/none.db does not exist\n"


def test_backup_of_postgresql_runs_pg_dump(new_postgres_url: str, tmp_path: Path) -> None:
    rota = Rota(new_postgres_url)
    rota.jobs()  # the schema, with its tables
    rota.close()
    result = invoke("db", "backup", "--database-url", new_postgres_url, "--to", str(tmp_path))
    assert result.exit_code == 0, result.output
    dump = gzip.decompress(Path(result.stdout.split()[0]).read_bytes()).decode()
    assert "CREATE TABLE" in dump
    assert "jobs" in dump


def test_backup_without_pg_dump_names_it(
    new_postgres_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    result = invoke("db", "backup", "--database-url", new_postgres_url, "--to", str(tmp_path))
    assert result.exit_code == 1
    assert "pg_dump, which is not on PATH" in result.stderr
