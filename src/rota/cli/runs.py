"""``rota runs``: the runs table with filters, ``show`` (with ``--follow``), ``cancel`` and
``retry``; and ``rota events``, the live stream of committed changes."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import click

from rota.cli.backend import Backend
from rota.cli.common import Where, backend_options
from rota.cli.show import event_line, print_json, render, run_lines, runs_table
from rota.cli.words import progress
from rota.store.records import Reason, RunStatus

__all__ = ["events", "follow_run", "runs"]

ACTIVE = frozenset({"queued", "running"})
GOOD = frozenset({"succeeded", "skipped"})
RUN_ID = click.IntRange(min=1, max=2**63 - 1)


def _now() -> datetime:
    return datetime.now(UTC)


@click.group(invoke_without_command=True)
@click.option("--job", default=None, help="Only this job's runs.")
@click.option(
    "--status",
    "statuses",
    multiple=True,
    type=click.Choice([s.value for s in RunStatus]),
    help="Only runs in this status (again for more).",
)
@click.option(
    "--reason",
    "reasons",
    multiple=True,
    type=click.Choice([r.value for r in Reason]),
    help="Only runs for this reason (again for more).",
)
@click.option("-n", "--limit", type=click.IntRange(1, 10_000), default=20, show_default=True)
@click.option("--before", type=RUN_ID, default=None, help="Runs older than this id (paging).")
@click.option(
    "--parent", type=RUN_ID, default=None, metavar="ID", help="Only the runs run ID spawned."
)
@click.option("--json", "as_json", is_flag=True, help="Print the API's JSON instead.")
@backend_options
@click.pass_context
def runs(
    ctx: click.Context,
    job: str | None,
    statuses: tuple[str, ...],
    reasons: tuple[str, ...],
    limit: int,
    before: int | None,
    parent: int | None,
    as_json: bool,
    where: Where,
) -> None:
    """List runs, newest first: id, job, reason, status, when, how long, attempt, note."""
    if ctx.invoked_subcommand is not None:
        ctx.obj = where  # for its subcommand, when the options came before its name
        return
    with where.open() as backend:
        page = backend.runs(job, statuses, reasons, limit, before, parent)
    if as_json:
        print_json(page)
        return
    items = page["items"]
    if not items:
        click.echo("no runs match")
        return
    render(runs_table(items, _now()))
    more = f"; older: --before {page['next_cursor']}" if page["next_cursor"] else ""
    click.echo(f"{len(items)} of {page['total']} runs{more}")


@runs.command("show")
@click.argument("run_id", type=RUN_ID, metavar="ID")
@click.option("--follow", "-f", is_flag=True, help="Tail a running run's log until it ends.")
@click.option(
    "--interval",
    type=click.FloatRange(min=0.05),
    default=0.5,
    show_default=True,
    help="Seconds between looks with --follow.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the API's JSON instead.")
@backend_options
def show_command(run_id: int, follow: bool, interval: float, as_json: bool, where: Where) -> None:
    """Show one run: times, status, error, its log and traceback.

    With --follow, print the log as it comes until the run ends; the exit code is then 0 if
    it succeeded (or was skipped), 1 if not.
    """
    with where.open() as backend:
        if follow:
            follow_run(backend, run_id, interval=interval)
            return
        run = backend.run(run_id)
    if as_json:
        print_json(run)
        return
    for line in run_lines(run, _now()):
        click.echo(line)
    _tail(run)


def _tail(run: dict[str, object]) -> None:
    log, traceback = run["log"], run["traceback"]
    if log:
        click.echo("\nlog:")
        click.echo(str(log), nl=not str(log).endswith("\n"))
    if traceback:
        click.echo("\ntraceback:")
        click.echo(str(traceback), nl=not str(traceback).endswith("\n"))


def follow_run(
    backend: Backend, run_id: int, *, interval: float = 0.5, header: bool = True
) -> None:
    """Print a run's log as it grows and its progress as it changes, until it ends; then its
    outcome. Exits 1 unless it succeeded or was skipped."""
    run = backend.run(run_id)
    if header:
        for line in run_lines(run, _now()):
            click.echo(line)
        click.echo()
    printed, said, status = 0, "", ""
    try:
        while True:
            if run["status"] != status and run["status"] in ACTIVE:
                status = run["status"]
                click.echo(f"[{status}]")
            log: str = run["log"]
            if len(log) > printed:
                click.echo(log[printed:], nl=False)
                printed = len(log)
            now_said = progress(run)
            if now_said and now_said != said and run["status"] == "running":
                said = now_said
                click.echo(f"[progress {said}]")
            if run["status"] not in ACTIVE:
                break
            time.sleep(interval)
            run = backend.run(run_id)
    except KeyboardInterrupt:
        click.echo(f"stopped following run {run_id}; it goes on", err=True)
        return
    if printed and not run["log"].endswith("\n"):
        click.echo()
    outcome = run["error"] or run["note"]
    click.echo(f"run {run_id} {run['status']}" + (f": {outcome}" if outcome else ""))
    if run["traceback"]:
        click.echo(run["traceback"], nl=not run["traceback"].endswith("\n"))
    if run["status"] not in GOOD:
        raise SystemExit(1)


@runs.command("cancel")
@click.argument("run_id", type=RUN_ID, metavar="ID")
@backend_options
def cancel_command(run_id: int, where: Where) -> None:
    """Cancel a queued or running run (a running one stops when its node hears it)."""
    with where.open() as backend:
        run = backend.cancel(run_id)
    if run["status"] == "running":
        click.echo(f"run {run_id}: cancel requested (it stops when its node hears it)")
    elif run["status"] == "cancelled":
        click.echo(f"run {run_id} cancelled")
    else:
        click.echo(f"run {run_id} had already ended: {run['status']}; left as it is")


@runs.command("retry")
@click.argument("run_id", type=RUN_ID, metavar="ID")
@backend_options
def retry_command(run_id: int, where: Where) -> None:
    """Queue the next attempt of a failed, timed-out, interrupted or cancelled run now."""
    with where.open() as backend:
        created = backend.retry(run_id)
    click.echo(f"run {created['id']} {created['status']}: retry of run {run_id}")


@click.command("events")
@click.option(
    "--after",
    type=click.IntRange(min=0),
    default=None,
    help="Start after this event id (0: the oldest kept); default: from now.",
)
@click.option("--job", default=None, help="Only this job's events.")
@click.option("--kind", default=None, help="Only kinds starting so: run., run.finished, job.")
@click.option(
    "-n",
    "--count",
    type=click.IntRange(min=1),
    default=None,
    help="Stop after this many events (default: follow until Ctrl-C).",
)
@click.option("--json", "as_json", is_flag=True, help="One JSON object a line.")
@backend_options
def events(
    after: int | None,
    job: str | None,
    kind: str | None,
    count: int | None,
    as_json: bool,
    where: Where,
) -> None:
    """Follow the stream of committed changes (any process's), one line each."""
    import json

    seen = 0
    with where.open() as backend:
        if job is not None:
            backend.job(job)  # no such job: say so, rather than wait for its events forever
        stream = backend.events(after)
        try:
            for event in stream:
                if job is not None and event["job"] != job:
                    continue
                if kind is not None and not event["kind"].startswith(kind):
                    continue
                click.echo(json.dumps(event) if as_json else event_line(event))
                seen += 1
                if count is not None and seen >= count:
                    break
        except KeyboardInterrupt:
            pass
        finally:
            close = getattr(stream, "close", None)
            if close is not None:
                close()
