"""``rota preview``: a schedule's canonical text, description, fire times and DST notes."""

from __future__ import annotations

from datetime import UTC, datetime

import click

from rota.cli.words import until
from rota.errors import RotaError
from rota.schedules import parse, preview
from rota.schedules.simple import Once, parse_instant

__all__ = ["preview_command"]


@click.command("preview")
@click.argument("schedule")
@click.option("--tz", default=None, help="IANA time zone (default: $TZ, else UTC).")
@click.option("-n", "count", default=5, show_default=True, help="How many fire times.")
@click.option("--after", default=None, help="Start from this ISO 8601 instant instead of now.")
def preview_command(schedule: str, tz: str | None, count: int, after: str | None) -> None:
    """Show a schedule's canonical text, description, next fire times and DST notes.

    SCHEDULE is any schedule text: "daily 02:00", "weekly sun 04:00", "every 2h",
    "30 2 * * *", "once 2026-12-01T10:00+01:00", "manual", "after sync".
    """
    try:
        value = parse(schedule, tz)
        now = datetime.now(UTC)
        start = now if after is None else parse_instant(after, tz, field="after")
        result = preview(value, count, start, tz)
    except RotaError as error:
        click.echo(f"error: {error}", err=True)
        raise SystemExit(2) from None
    click.echo(value.text)
    click.echo(value.describe())
    click.echo()
    if not result.fire_times and isinstance(value, Once):
        click.echo(f"  never fires: its time, {value.at.isoformat(sep=' ')}, has passed")
    elif not result.fire_times:
        click.echo("  never fires by itself")
    for at in result.fire_times:
        fraction = f".{at.microsecond // 1000:03d}" if at.microsecond else ""
        stamp = f"{at:%a %Y-%m-%d %H:%M:%S}{fraction} {at.tzname()} ({at:%z})"
        click.echo(f"  {stamp:<40} {until(start, at)}")
    if result.notes:
        click.echo()
        for note in result.notes:
            click.echo(f"  DST {note}")
