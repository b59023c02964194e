"""The admin surface's tests run like the engine's: a FakeClock, on memory, SQLite and
PostgreSQL."""

from __future__ import annotations

from tests.engine.conftest import clock, database_url, postgres_session, postgres_url, rotas

__all__ = ["clock", "database_url", "postgres_session", "postgres_url", "rotas"]
