"""Alembic's entry point for rota's migrations.

`rota.store.migrate` runs it with a connection already inside a write transaction (passed in the
configuration's attributes), so the migrations and the version row commit together, and Alembic
leaves the transaction to its owner.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from rota.errors import StoreError
from rota.store.schema import metadata

connection = context.config.attributes.get("connection")
if not isinstance(connection, Connection):
    raise StoreError(
        "rota's migrations run on a connection given by rota.store.migrate "
        "(SqlStore.open() does this); alembic.ini and offline mode are not used"
    )
# Batch mode: SQLite alters most tables only by copying them, which Alembic does when asked.
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
