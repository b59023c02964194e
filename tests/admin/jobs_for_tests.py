"""Module-level job functions that run-time jobs name by import path."""

from __future__ import annotations

from rota.engine.context import RunContext

CALLS: list[tuple[str, str]] = []


def fetch_feed(ctx: RunContext, url: str, limit: int = 10) -> None:
    """Fetch one feed."""
    CALLS.append((ctx.run.job, url))
    ctx.log.info("fetched %s (limit %d)", url, limit)


async def refresh(ctx: RunContext) -> None:
    """Refresh asynchronously."""
    CALLS.append((ctx.run.job, "refresh"))


def mirror(ctx: RunContext) -> None:
    """Mirror the feeds to the archive (slowly: the
    archive throttles).

    Everything past the first paragraph is detail for readers of the code.
    """
    CALLS.append((ctx.run.job, "mirror"))
