"""Alembic migrations of the store's schema; `rota.store.migrate` runs them (no alembic.ini)."""
