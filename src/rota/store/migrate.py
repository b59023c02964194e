"""Bring a database's schema to the revision this rota knows: a quick look when it is there
already, Alembic only when it is missing or behind.

Importing Alembic costs more than opening the store, and every process opens the store at start,
so the usual case (schema at head) reads one row with plain SQLAlchemy and stops there.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine, inspect, text

from rota.errors import StoreError
from rota.store.dialect import lock_for_migration, write_transaction

if TYPE_CHECKING:
    from alembic.config import Config

__all__ = ["HEAD", "MIGRATIONS", "alembic_config", "current_revision", "ensure_schema", "upgrade"]

HEAD = "0007"
"""The newest revision in migrations/versions (a test checks that Alembic agrees)."""

MIGRATIONS = Path(__file__).with_name("migrations")
"""Alembic's script directory, inside the package (so inside the wheel)."""


def current_revision(connection: Connection) -> str | None:
    """The schema revision recorded in the database, or None for an empty database."""
    if not inspect(connection).has_table("alembic_version"):
        return None
    return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()


def ensure_schema(engine: Engine) -> None:
    """Create or migrate the schema to `HEAD`; a no-op (one read) when it is there."""
    with engine.connect() as connection:
        if current_revision(connection) == HEAD:
            return
    upgrade(engine)


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic configuration built in code (no alembic.ini): rota's migrations, run on
    `connection` by migrations/env.py. Also what a developer uses to write a new revision."""
    from alembic.config import Config

    config = Config()
    # The value goes through configparser interpolation, where '%' is special.
    config.set_main_option("script_location", str(MIGRATIONS).replace("%", "%%"))
    config.attributes["connection"] = connection
    return config


def upgrade(engine: Engine) -> None:
    """Run the missing migrations in one write transaction.

    The write lock makes processes that start together on a new database take turns: the first
    creates the schema, the others then find it at head and do nothing.
    """
    from alembic import command
    from alembic.script import ScriptDirectory

    with write_transaction(engine) as connection:
        lock_for_migration(connection)
        revision = current_revision(connection)
        if revision == HEAD:
            return
        config = alembic_config(connection)
        if revision is not None:
            known = {
                script.revision for script in ScriptDirectory.from_config(config).walk_revisions()
            }
            if revision not in known:
                raise StoreError(
                    f"the database's schema is at revision {revision!r}, which this version of "
                    f"rota does not know (it knows up to {HEAD!r}); a newer rota wrote it"
                )
        # Alembic tells of every plugin it sets up at INFO: noise in an app that logs INFO
        # (its "Running upgrade" lines stay).
        alembic_log = logging.getLogger("alembic.runtime.plugins")
        level = alembic_log.level
        alembic_log.setLevel(max(level, logging.WARNING))
        try:
            command.upgrade(config, "head")
        finally:
            alembic_log.setLevel(level)
