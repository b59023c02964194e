"""``rota jobs``: the jobs table (``--watch`` keeps it live), and ``show``, ``run``, ``pause``,
``resume``, ``set``, ``reset`` and ``rm`` of one job."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime

import click

from rota.cli.backend import CommandError, Json
from rota.cli.common import Where, backend_options, parse_pairs
from rota.cli.show import job_lines, jobs_table, print_json, render, running_table
from rota.cli.words import coming

__all__ = ["jobs"]


def _now() -> datetime:
    return datetime.now(UTC)


@click.group(invoke_without_command=True)
@click.option("--internal", is_flag=True, help="Show rota's own jobs too (rota-prune).")
@click.option("--json", "as_json", is_flag=True, help="Print the API's JSON instead.")
@click.option("--watch", is_flag=True, help="A live table of jobs and running runs.")
@click.option(
    "--interval",
    type=click.FloatRange(min=0.1),
    default=1.0,
    show_default=True,
    help="Seconds between refreshes of --watch.",
)
@click.option(
    "--times",
    type=click.IntRange(min=1),
    default=None,
    help="With --watch: stop after this many refreshes (default: until Ctrl-C).",
)
@backend_options
@click.pass_context
def jobs(
    ctx: click.Context,
    internal: bool,
    as_json: bool,
    watch: bool,
    interval: float,
    times: int | None,
    where: Where,
) -> None:
    """List jobs: schedule, next fire time, last run, last success, failures in a row, state.

    On the store (--database-url, ROTA_DATABASE_URL, or --app) or through a running service
    (--url, ROTA_URL; the token from ROTA_TOKEN): the same output either way.
    """
    if ctx.invoked_subcommand is not None:
        ctx.obj = where  # for its subcommand, when the options came before its name
        return
    if watch and as_json:
        raise CommandError("options: --watch draws a table; it does not go with --json", 2)
    with where.open() as backend:
        if watch:
            _watch(lambda: backend.jobs(internal), interval, times)
        elif as_json:
            print_json(backend.jobs(internal))
        else:
            found = backend.jobs(internal)
            if not found:
                click.echo(f"no jobs in {backend.where}")
                return
            render(jobs_table(found, _now()))


def _watch(read: Callable[[], list[Json]], interval: float, times: int | None) -> None:
    from rich.console import Group
    from rich.live import Live

    from rota.cli.show import console

    def screen() -> Group:
        found = read()
        now = _now()  # after the read: what it read has happened by now
        stamp = f"[dim]{now:%H:%M:%S} UTC, every {interval:g} s; Ctrl-C stops[/]"
        return Group(jobs_table(found, now), running_table(found, now), stamp)

    shown = 0
    try:
        with Live(screen(), console=console(), auto_refresh=False) as live:
            shown = 1
            while times is None or shown < times:
                time.sleep(interval)
                live.update(screen(), refresh=True)
                shown += 1
    except KeyboardInterrupt:
        pass


@jobs.command("show")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print the API's JSON instead.")
@backend_options
def show_command(name: str, as_json: bool, where: Where) -> None:
    """Show one job: schedule, next fire times, runs, failures, settings and overrides."""
    with where.open() as backend:
        job = backend.job(name)
    if as_json:
        print_json(job)
        return
    for line in job_lines(job, _now()):
        click.echo(line)


@jobs.command("run")
@click.argument("name")
@click.argument("args", nargs=-1, metavar="[KEY=VALUE]...")
@click.option("--at", default=None, help="Start at this ISO 8601 time instead of now.")
@click.option("--follow", is_flag=True, help="Follow the run to its end (its log as it comes).")
@backend_options
def run_command(
    name: str, args: tuple[str, ...], at: str | None, follow: bool, where: Where
) -> None:
    """Run a job now (through its overlap policy; the next scheduled run does not move).

    Arguments are KEY=VALUE, each VALUE read as JSON where it is JSON (full=true, n=3) and
    as text otherwise (title=hello).
    """
    from rota.schedules.simple import parse_instant

    given = parse_pairs(args, "argument")
    start = None if at is None else parse_instant(at, None, field="at")
    with where.open() as backend:
        created = backend.run_now(name, given, start)
        said = f": {created['note']}" if created["note"] else ""
        when = f" for {start.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC" if start else ""
        click.echo(f"run {created['id']} of {name} {created['status']}{when}{said}")
        if follow:
            from rota.cli.runs import follow_run

            follow_run(backend, created["id"], header=False)


@jobs.command("pause")
@click.argument("name")
@click.option("--note", default=None, help="Why (shown with the job).")
@backend_options
def pause_command(name: str, note: str | None, where: Where) -> None:
    """Stop a job firing on its schedule (it can still be run by hand)."""
    with where.open() as backend:
        job = backend.pause(name, note)
    click.echo(f"{job['name']} paused" + (f" ({note})" if note else ""))


@jobs.command("resume")
@click.argument("name")
@backend_options
def resume_command(name: str, where: Where) -> None:
    """Let a paused job fire again, from its next fire time after now."""
    with where.open() as backend:
        job = backend.resume(name)
    click.echo(f"{job['name']} resumed; next: {_next_words(job)}")


@jobs.command("set")
@click.argument("name")
@click.argument("settings", nargs=-1, required=True, metavar="SETTING=VALUE...")
@backend_options
def set_command(name: str, settings: tuple[str, ...], where: Where) -> None:
    """Override settings of a job, all or nothing: schedule="daily 03:00" overlap=queue
    retry=3 timeout=2h args='{"full": true}' (a VALUE is JSON where it reads as JSON)."""
    given = parse_pairs(settings, "setting")
    with where.open() as backend:
        job = backend.override(name, given)
    for key in given:
        click.echo(f"{job['name']}: {key} = {_shown(job, key)}")
    click.echo(f"next: {_next_words(job)}")


@jobs.command("reset")
@click.argument("name")
@click.argument("settings", nargs=-1, metavar="[SETTING]...")
@backend_options
def reset_command(name: str, settings: tuple[str, ...], where: Where) -> None:
    """Drop overrides of the named settings; with none named, every override and the pause."""
    with where.open() as backend:
        job = backend.reset(name, settings)
    if settings:
        for key in settings:
            click.echo(f"{job['name']}: {key} = {_shown(job, key)} (the code's)")
    else:
        click.echo(f"{job['name']}: every override and the pause dropped; as its code says")
    click.echo(f"next: {_next_words(job)}")


@jobs.command("rm")
@click.argument("name")
@click.option("--yes", is_flag=True, help="Do not ask.")
@backend_options
def rm_command(name: str, yes: bool, where: Where) -> None:
    """Delete a run-time job, or a code job no live node defines any more, with its history."""
    with where.open() as backend:
        if not yes:
            backend.job(name)  # no such job: say so, rather than ask
            click.confirm(f"Delete job {name!r} and all its runs?", abort=True)
        backend.remove(name)
    click.echo(f"{name} deleted, with its runs")


def _next_words(job: Json) -> str:
    if job["paused"]:
        return "- (paused)"
    if job["next_fire_at"] is None:
        return f"- ({job['schedule']['description']})"
    return f"{coming(_now(), job['next_fire_at'])} ({job['schedule']['text']})"


def _shown(job: Json, key: str) -> str:
    if key == "schedule":
        return f"{job['schedule']['text']} ({job['schedule']['description']})"
    return json.dumps(job["settings"].get(key))
