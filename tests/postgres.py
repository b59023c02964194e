"""PostgreSQL for tests: which server, and schemas of a test session's own on it.

`ROTA_TEST_DATABASE_URL` names the server (default: the local one, which scripts/test starts).
A test that needs PostgreSQL fails, and never skips, when the server cannot be reached: CI must
notice a missing server rather than pass without it.

Each test session works in schemas of its own (``rota_test_<pid>_<hex>``), so sessions sharing a
server, or a database that holds other things, do not see each other; the session drops them
(CASCADE) when it ends. A store is pointed at a schema through its URL: libpq's
``options=-csearch_path=<schema>``, which psycopg passes to the server at connect.

The fixtures here are imported by the conftest files that use them (tests/store/conftest.py):

- `postgres_session`: one schema per session, migrated once (Alembic runs once, ~0.2 s);
- `postgres_url`: that schema emptied (rows deleted, the run id sequence restarted), per test;
- `new_postgres_url`: a brand-new schema with no tables, for tests of creating the schema.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from rota.store.schema import metadata
from rota.store.sql import SqlStore

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
"""The test server when ROTA_TEST_DATABASE_URL is not set: the local one scripts/test starts."""

# A test that left a transaction open would make the next test's emptying wait forever.
_LOCK_TIMEOUT = "5s"


def server_url() -> str:
    """The URL of the PostgreSQL server tests use (``postgresql://`` spelled for psycopg)."""
    url = make_url(os.environ.get("ROTA_TEST_DATABASE_URL") or DEFAULT_URL)
    if url.drivername == "postgresql":
        url = url.set(drivername="postgresql+psycopg")
    return url.render_as_string(hide_password=False)


def shown(url: str) -> str:
    """`url` fit for a message: without its password."""
    return make_url(url).render_as_string(hide_password=True)


def with_options(url: str, *options: str) -> str:
    """`url` with libpq `options` (``-cNAME=VALUE``) added to those it has already."""
    parsed = make_url(url)
    given = parsed.query.get("options", "")
    joined = " ".join([*([given] if isinstance(given, str) else given), *options]).strip()
    return parsed.update_query_dict({"options": joined}).render_as_string(hide_password=False)


def in_schema(url: str, schema: str) -> str:
    """`url` with `schema` as its search path."""
    return with_options(url, f"-csearch_path={schema}")


def schema_name() -> str:
    """A schema name no other session uses: pid and randomness, lower case for SQL."""
    return f"rota_test_{os.getpid()}_{secrets.token_hex(4)}"


def admin(url: str) -> Engine:
    """An engine for DDL on the test server (autocommit)."""
    parsed = make_url(url)
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    return create_engine(parsed, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 5})


def create_schema(url: str) -> str:
    """Create a new, empty schema on the server at `url`; its name.

    Fails the test (never skips it) with the URL named if the server cannot be reached.
    """
    name = schema_name()
    engine = admin(url)
    try:
        with engine.connect() as connection:
            connection.execute(text(f"CREATE SCHEMA {name}"))
    except DBAPIError as error:
        problem = str(error.orig)
    else:
        return name
    finally:
        engine.dispose()
    # Outside the except clause, so that the report is this message and not a traceback.
    pytest.fail(
        f"the PostgreSQL test server at {shown(url)} cannot be reached: {problem}\n"
        "scripts/test starts the local one; set ROTA_TEST_DATABASE_URL to use another",
        pytrace=False,
    )


def store_url_for(kind: str, tmp: Path) -> Iterator[str]:
    """A store URL for a fixture: a SQLite file in `tmp`, or (``postgresql``) a schema of its
    own on the test server, dropped once the fixture ends."""
    if kind == "sqlite":
        yield f"sqlite:///{tmp}/rota.db"
    else:
        yield from fresh_schema_url()


def fresh_schema_url() -> Iterator[str]:
    """For a fixture: the URL of a new, empty schema on the test server, dropped at its end."""
    server = server_url()
    name = create_schema(server)
    try:
        yield in_schema(server, name)
    finally:
        drop_schema(server, name)


def drop_schema(url: str, name: str) -> None:
    """Drop a schema made by `create_schema`, and everything in it."""
    engine = admin(url)
    try:
        with engine.connect() as connection:
            connection.execute(text(f"DROP SCHEMA IF EXISTS {name} CASCADE"))
    finally:
        engine.dispose()


@dataclass
class SessionSchema:
    """The test session's migrated schema and how to empty it."""

    url: str
    """A store URL whose search path is the schema."""
    engine: Engine
    empty_sql: str

    def empty(self) -> None:
        """Delete every row of rota's tables and restart the run ids at 1.

        DELETE and a sequence restart take 0.6 ms on these few rows; TRUNCATE ... RESTART
        IDENTITY takes 6 ms (it makes new files) and a schema migrated per test 180 ms.
        """
        with self.engine.connect() as connection:
            connection.exec_driver_sql(self.empty_sql)


def _empty_sql(engine: Engine) -> str:
    with engine.connect() as connection:
        sequences = connection.execute(
            text("SELECT sequencename FROM pg_sequences WHERE schemaname = current_schema()")
        ).scalars()
        restarts = [f"ALTER SEQUENCE {name} RESTART" for name in sorted(sequences)]
    # Children before parents: runs refer to jobs.
    deletes = [f"DELETE FROM {table.name}" for table in reversed(metadata.sorted_tables)]
    return f"SET lock_timeout = '{_LOCK_TIMEOUT}'; " + "; ".join(deletes + restarts)


@pytest.fixture(scope="session")
def postgres_session() -> Iterator[SessionSchema]:
    """This session's schema on the test server, migrated; dropped with its tables at the end."""
    server = server_url()
    name = create_schema(server)
    url = in_schema(server, name)
    try:
        store = SqlStore(url)
        store.open()
        store.close()
        engine = admin(url)
        try:
            yield SessionSchema(url, engine, _empty_sql(engine))
        finally:
            engine.dispose()
    finally:
        drop_schema(server, name)


@pytest.fixture
def postgres_url(postgres_session: SessionSchema) -> str:
    """The URL of the session's schema, emptied for this test."""
    postgres_session.empty()
    return postgres_session.url


@pytest.fixture
def new_postgres_url() -> Iterator[str]:
    """The URL of a schema with no tables at all (dropped after the test)."""
    yield from fresh_schema_url()
