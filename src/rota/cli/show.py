"""How the commands print jobs, runs and events: rich tables (rich imported only here, when a
table is printed) and plain lines, from the API's JSON shapes."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from typing import TYPE_CHECKING, Any

import click

from rota.cli.words import coming, progress, seconds, since, stamp

if TYPE_CHECKING:
    from rich.console import Console, RenderableType
    from rich.table import Table

__all__ = [
    "console",
    "event_line",
    "job_lines",
    "jobs_table",
    "print_json",
    "render",
    "run_lines",
    "running_table",
    "runs_table",
    "state_of",
]

Json = dict[str, Any]
FAILED = frozenset({"failed", "timed-out", "interrupted"})
STYLE = {
    "succeeded": "green",
    "failed": "red",
    "timed-out": "red",
    "interrupted": "red",
    "running": "cyan",
    "queued": "blue",
    "cancelled": "yellow",
    "skipped": "dim",
}


def console() -> Console:
    """A console on stdout: a terminal's width, or wide enough not to wrap in a pipe."""
    from rich.console import Console

    terminal = sys.stdout.isatty()
    return Console(file=sys.stdout, width=None if terminal else 200, highlight=False)


def print_json(value: Any) -> None:
    """`value` as indented JSON (the API's shapes)."""
    click.echo(json.dumps(value, indent=2, sort_keys=False))


def _status(status: str) -> str:
    style = STYLE.get(status)
    return f"[{style}]{status}[/]" if style else status


def state_of(job: Json) -> str:
    """What a job is doing: ``paused (note)``, ``running 1``, ``queued 2``, ``orphaned``."""
    parts = []
    if job["paused"]:
        parts.append(f"paused ({job['pause_note']})" if job["pause_note"] else "paused")
    if job["orphaned"]:
        parts.append("orphaned")
    if job["running"]:
        parts.append(f"running {len(job['running'])}")
    if job["queued"]:
        parts.append(f"queued {job['queued']}")
    return ", ".join(parts) or "idle"


def _next(job: Json, now: datetime) -> str:
    if job["paused"]:
        return "paused"
    if job["next_fire_at"] is None:
        return "-"
    return coming(now, job["next_fire_at"])


def _last(run: Json | None, now: datetime) -> str:
    if run is None:
        return "-"
    when = since(now, run["finished_at"] or run["queued_at"])
    return f"{_status(run['status'])} {when}"


def jobs_table(jobs: list[Json], now: datetime) -> Table:
    """The jobs, a row each: schedule, next fire time, last run, last success, failures in a
    row, and what it is doing."""
    from rich import box
    from rich.table import Table

    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    for column in ("job", "schedule", "next", "last run", "took", "last success", "fails"):
        table.add_column(column, no_wrap=column != "schedule")
    table.add_column("state")
    for job in jobs:
        fails = job["consecutive_failures"]
        table.add_row(
            job["name"],
            job["schedule"]["text"],
            _next(job, now),
            _last(job["last_run"], now),
            seconds(job["last_duration_seconds"]),
            _last(job["last_success"], now).removeprefix("[green]succeeded[/] "),
            f"[red]{fails}[/]" if fails else "0",
            state_of(job),
        )
    return table


def running_table(jobs: list[Json], now: datetime) -> Table:
    """The runs running now, with their progress (for ``rota jobs --watch``)."""
    from rich import box
    from rich.table import Table

    table = Table(
        box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, title="running", title_justify="left"
    )
    for column in ("run", "job", "started", "node", "progress"):
        table.add_column(column, no_wrap=column != "progress")
    for job in jobs:
        for run in job["running"]:
            table.add_row(
                str(run["id"]),
                run["job"],
                since(now, run["started_at"]),
                run["node"] or "-",
                progress(run),
            )
    return table


def runs_table(runs: list[Json], now: datetime) -> Table:
    """Runs, newest first: id, job, why, status, when queued, how long, attempt, and what it
    said (progress, note or error)."""
    from rich import box
    from rich.table import Table

    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    for column in ("id", "job", "reason", "status", "queued", "took", "attempt"):
        table.add_column(column, no_wrap=True, justify="right" if column == "id" else "left")
    table.add_column("note / error")
    for run in runs:
        said = run["error"] or run["note"] or (progress(run) if run["status"] == "running" else "")
        table.add_row(
            str(run["id"]),
            run["job"],
            run["reason"],
            _status(run["status"]),
            since(now, run["queued_at"]),
            seconds(run["duration_seconds"]),
            str(run["attempt"]),
            said.splitlines()[0] if said else "",
        )
    return table


def job_lines(job: Json, now: datetime) -> list[str]:
    """One job, a fact a line."""
    schedule = job["schedule"]
    lines = [f"{job['name']}  ({job['kind']})"]
    if job["description"]:
        lines.append(f"  {job['description']}")
    if job["target"]:
        lines.append(f"  function: {job['target']}")
    lines += [
        "",
        f"schedule      {schedule['text']}  ({schedule['description']})",
        f"state         {state_of(job)}",
    ]
    if job["upstream"]:
        lines.append(f"after         {', '.join(job['upstream'])}")
    if job["downstream"]:
        lines.append(f"then          {', '.join(job['downstream'])}")
    if job["next_fire_times"] and not job["paused"]:
        first, *rest = job["next_fire_times"]
        lines.append(f"next          {stamp(first)}  ({coming(now, first)})")
        lines += [f"              {stamp(at)}" for at in rest]
    else:
        lines.append("next          -" if not job["paused"] else "next          - (paused)")
    for run in job["running"]:
        said = progress(run)
        lines.append(
            f"running       run {run['id']}, started {since(now, run['started_at'])}"
            + (f": {said}" if said else "")
        )
    for label, key in (
        ("last run", "last_run"),
        ("last success", "last_success"),
        ("last failure", "last_failure"),
    ):
        run = job[key]
        if run is None:
            lines.append(f"{label:<14}-")
            continue
        when = since(now, run["finished_at"] or run["queued_at"])
        detail = f": {run['error'].splitlines()[0]}" if run["error"] else ""
        lines.append(f"{label:<14}run {run['id']} {run['status']} {when}{detail}")
    lines += [
        f"fails in row  {job['consecutive_failures']}",
        f"took          last {seconds(job['last_duration_seconds'])}, "
        f"median {seconds(job['median_duration_seconds'])}",
        "",
        "settings:",
    ]
    for name, value in job["settings"].items():
        mark = "  (overridden)" if name in job["overrides"] else ""
        lines.append(f"  {name:<15}{json.dumps(value)}{mark}")
    return lines


def run_lines(run: Json, now: datetime) -> list[str]:
    """One run's facts (not its log), a fact a line."""
    lines = [f"run {run['id']}  {run['job']}  {run['status']}"]
    fire = f", fire time {stamp(run['fire_time'])}" if run["fire_time"] else ""
    retry = f", retry of run {run['retry_of']}" if run["retry_of"] else ""
    lines.append(f"reason        {run['reason']}{fire}")
    lines.append(f"attempt       {run['attempt']}{retry}")
    lines.append(f"queued        {stamp(run['queued_at'])}  ({since(now, run['queued_at'])})")
    if run["not_before"]:
        lines.append(f"not before    {stamp(run['not_before'])}")
    if run["started_at"]:
        lines.append(f"started       {stamp(run['started_at'])}  on {run['node'] or '-'}")
    if run["finished_at"]:
        took = seconds(run["duration_seconds"])
        lines.append(f"finished      {stamp(run['finished_at'])}  (took {took})")
    if run.get("parent_run_id"):
        lines.append(f"spawned by    run {run['parent_run_id']}")
    if run.get("upstream_runs"):
        links = ", ".join(f"{job} (run {i})" for job, i in run["upstream_runs"].items())
        lines.append(f"after         {links}")
    if run["args"]:
        lines.append(f"args          {json.dumps(run['args'], sort_keys=True)}")
    said = progress(run)
    if said:
        lines.append(f"progress      {said}")
    if run["cancel_requested"] and run["status"] == "running":
        lines.append("cancel        requested")
    if run["note"]:
        lines.append(f"note          {run['note']}")
    if run["error"]:
        lines.append(f"error         {run['error']}")
    return lines


def event_line(event: Json) -> str:
    """One event: ``#1017 2026-05-01 01:00:03 UTC run.finished library-scan run 42 ...``."""
    parts = [f"#{event['id']}", stamp(event["at"]), event["kind"]]
    if event["job"]:
        parts.append(event["job"])
    if event["run_id"] is not None:
        parts.append(f"run {event['run_id']}")
    parts += [f"{k}={json.dumps(v)}" for k, v in event["data"].items() if v is not None]
    return "  ".join(parts)


def render(renderable: RenderableType) -> None:
    """Print a table (or any rich renderable) on stdout; into a pipe without colours or the
    spaces that pad its cells out at the end of a line."""
    shown = console()
    if shown.is_terminal:
        shown.print(renderable)
        return
    with shown.capture() as captured:
        shown.print(renderable)
    click.echo("\n".join(line.rstrip() for line in captured.get().splitlines()))
