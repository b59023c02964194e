"""``rota limiters``: each shared rate limiter's capacity, period, the tokens in use and when
the oldest of them stop counting (decision 0012), as ``GET /api/limiters`` answers."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

import click

from rota.cli.backend import Json
from rota.cli.common import Where, backend_options
from rota.cli.show import print_json, render
from rota.cli.words import coming, span

if TYPE_CHECKING:
    from rich.table import Table

__all__ = ["limiters", "limiters_table"]


def limiters_table(found: list[Json], now: datetime) -> Table:
    """The limiters, a row each: capacity per period, tokens in use, next refill, max wait."""
    from rich import box
    from rich.table import Table

    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    for column in ("limiter", "capacity", "period", "in use", "next refill", "max wait"):
        table.add_column(column, no_wrap=True)
    for limiter in found:
        wait = limiter["max_wait_seconds"]
        waits = "-" if wait is None else span(wait)
        if not limiter["declared"]:
            waits += " (not in this code)"
        table.add_row(
            limiter["name"],
            str(limiter["capacity"]),
            span(limiter["period_seconds"]),
            str(limiter["in_use"]),
            coming(now, limiter["next_refill"]),
            waits,
        )
    return table


@click.command("limiters")
@click.option("--json", "as_json", is_flag=True, help="Print the API's JSON instead.")
@backend_options
def limiters(as_json: bool, where: Where) -> None:
    """List rate limiters: capacity per period, tokens in use, next refill, max wait.

    A limiter the code of the process asked does not declare shows without a max wait (the
    store knows its limit, not how long runs wait for it).
    """
    with where.open() as backend:
        found = backend.limiters()
    if as_json:
        print_json(found)
        return
    if not found:
        click.echo(f"no limiters in {backend.where}")
        return
    render(limiters_table(found, datetime.now(UTC)))
