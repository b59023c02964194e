"""Module-level job functions that the service tests add at run time by import path."""

from __future__ import annotations

from rota.engine.context import RunContext


def add(ctx: RunContext, a: int = 1, b: int = 2) -> int:
    """Add two numbers."""
    ctx.log.info("adding %s and %s", a, b)
    return a + b
