"""The ``rota`` command line."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import click

from rota.errors import RotaError
from rota.schedules import parse, preview
from rota.schedules.simple import parse_instant

__all__ = ["main", "until"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="rota")
def main() -> None:
    """rota: named background jobs for self-hosted apps."""


@main.command("preview")
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
    if not result.fire_times:
        click.echo("  never fires by itself")
    for at in result.fire_times:
        fraction = f".{at.microsecond // 1000:03d}" if at.microsecond else ""
        stamp = f"{at:%a %Y-%m-%d %H:%M:%S}{fraction} {at.tzname()} ({at:%z})"
        click.echo(f"  {stamp:<40} {until(start, at)}")
    if result.notes:
        click.echo()
        for note in result.notes:
            click.echo(f"  DST {note}")


def until(now: datetime, then: datetime) -> str:
    """How far `then` lies after `now`, in words: ``"in 3 h 12 min"``."""
    # In UTC: Python subtracts datetimes sharing one ZoneInfo by wall clock, ignoring DST.
    seconds = (then.astimezone(UTC) - now.astimezone(UTC)) / timedelta(seconds=1)
    if seconds < 0:
        return "now"
    if seconds < 60:
        shown = f"{seconds:.1f}".rstrip("0").rstrip(".")
        return f"in {shown} s"
    minutes = int(seconds // 60)
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    if days:
        return f"in {days} d {hours} h" if hours else f"in {days} d"
    if hours:
        return f"in {hours} h {minutes} min" if minutes else f"in {hours} h"
    return f"in {minutes} min"
