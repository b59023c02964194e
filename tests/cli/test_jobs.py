"""``rota jobs ...`` on the store and through the service: the same output, the same errors."""

from __future__ import annotations

import json
import re

import pytest

from tests.cli.conftest import ADMIN, Run, Served, invoke, start_slow


def test_the_jobs_table_lists_each_job_with_its_schedule_and_state(rota_cli: Run) -> None:
    result = rota_cli("jobs")
    assert result.exit_code == 0, result.output
    rows = {line.split()[0]: line for line in result.stdout.splitlines() if line.strip()}
    assert {"echo", "slow", "boom", "nightly"} <= set(rows)
    assert "rota-prune" not in rows  # rota's own, only with --internal
    assert re.search(r"daily\s+03:00\s+in \d", rows["nightly"])
    assert "manual" in rows["echo"]


def test_internal_jobs_are_listed_when_asked(rota_cli: Run) -> None:
    result = rota_cli("jobs", "--internal", "--json")
    assert result.exit_code == 0, result.output
    assert "rota-prune" in {job["name"] for job in json.loads(result.stdout)}


def test_both_ways_print_the_same_json(served: Served) -> None:
    local = {"ROTA_DATABASE_URL": served.url}
    remote = {"ROTA_URL": served.server.url, "ROTA_TOKEN": ADMIN}
    for args in (["jobs", "--json"], ["jobs", "show", "nightly", "--json"]):
        here, there = (invoke(*args, env=env) for env in (local, remote))
        assert here.exit_code == there.exit_code == 0, (here.output, there.output)
        assert json.loads(here.stdout) == json.loads(there.stdout), args


def test_show_prints_the_jobs_facts_and_settings(rota_cli: Run) -> None:
    result = rota_cli("jobs", "show", "nightly")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "nightly  (code)"
    assert lines[1] == "  Once a night."
    assert "schedule      daily 03:00  (Every day at 03:00 (Europe/Berlin))" in lines
    assert any(
        re.fullmatch(r"next          \d{4}-\d\d-\d\d 0[12]:00:00 UTC  \(in .+\)", x) for x in lines
    )
    assert '  overlap        "skip"' in lines


def test_run_follows_the_run_to_its_log_and_outcome(rota_cli: Run) -> None:
    result = rota_cli("jobs", "run", "echo", "text=hello there", "--follow")
    assert result.exit_code == 0, result.output
    out = result.stdout
    first = out.splitlines()[0]
    assert re.fullmatch(r"run \d+ of echo (queued|running|succeeded)", first), first
    run_id = first.split()[1]
    assert "echo hello there" in out
    assert out.rstrip().endswith(f"run {run_id} succeeded")


def test_a_failing_run_followed_exits_1_with_its_traceback(rota_cli: Run) -> None:
    result = rota_cli("jobs", "run", "boom", "--follow")
    assert result.exit_code == 1
    assert re.search(r"run \d+ failed: RuntimeError: boom went the job", result.stdout)
    assert "Traceback" in result.stdout


def test_arguments_are_json_where_they_read_as_json(rota_cli: Run) -> None:
    result = rota_cli("jobs", "run", "slow", "seconds=0.01", "--follow")
    assert result.exit_code == 0, result.output
    run_id = result.stdout.split()[1]
    shown = rota_cli("runs", "show", run_id, "--json")
    assert json.loads(shown.stdout)["args"] == {"seconds": 0.01}


def test_set_pause_resume_reset(rota_cli: Run) -> None:
    changed = rota_cli("jobs", "set", "nightly", "schedule=daily 04:30", "overlap=queue")
    assert changed.exit_code == 0, changed.output
    assert changed.stdout.splitlines()[:2] == [
        "nightly: schedule = daily 04:30 (Every day at 04:30 (Europe/Berlin))",
        'nightly: overlap = "queue"',
    ]
    shown = rota_cli("jobs", "show", "nightly").stdout
    assert '  overlap        "queue"  (overridden)' in shown.splitlines()

    paused = rota_cli("jobs", "pause", "nightly", "--note", "disk full")
    assert paused.stdout == "nightly paused (disk full)\n"
    assert "state         paused (disk full)" in rota_cli("jobs", "show", "nightly").stdout
    row = next(r for r in rota_cli("jobs").stdout.splitlines() if r.startswith("nightly"))
    assert "paused (disk full)" in row

    resumed = rota_cli("jobs", "resume", "nightly")
    assert resumed.stdout.startswith("nightly resumed; next: in ")

    one = rota_cli("jobs", "reset", "nightly", "overlap")
    assert one.stdout.splitlines()[0] == 'nightly: overlap = "skip" (the code\'s)'
    assert "daily 04:30" in rota_cli("jobs", "show", "nightly").stdout
    every = rota_cli("jobs", "reset", "nightly")
    assert every.exit_code == 0
    assert "schedule      daily 03:00" in rota_cli("jobs", "show", "nightly").stdout


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["jobs", "show", "nope"], 1, "error: job: no job is named 'nope'\n"),
        (["jobs", "run", "nope"], 1, "error: job: no job is named 'nope'\n"),
        (["jobs", "pause", "nope"], 1, "error: job: no job is named 'nope'\n"),
        (
            ["jobs", "set", "nightly", "schedule=61 2 * * *"],
            2,
            "error: minute field: 61 is out of range 0-59\n",
        ),
        (["jobs", "set", "nightly", "overlap=sometimes"], 2, "error: overlap: "),
        (
            ["jobs", "set", "nightly", "colour=red"],
            2,
            "error: setting: 'colour' is not an overridable setting; an admin may override ",
        ),
        (["jobs", "set", "nope", "colour=red"], 1, "error: job: no job is named 'nope'\n"),
        (["jobs", "set", "nightly", "nonsense"], 2, "error: setting: 'nonsense' is not KEY=VALUE"),
        (["jobs", "run", "echo", "--at", "soon"], 2, "error: at: 'soon' is not an ISO 8601"),
        # Refused up front both ways: on the store, by the parameters the node stored.
        (["jobs", "run", "echo", "colour=red"], 2, "error: args: job 'echo' has no parameter"),
        (["jobs", "rm", "echo", "--yes"], 1, "error: "),
        (
            ["jobs", "reset", "nightly", "overlap", "nonsense"],
            2,
            "error: setting: 'nonsense' is not an overridable setting\n",
        ),
        (["jobs", "reset", "nope", "nonsense"], 1, "error: job: no job is named 'nope'\n"),
    ],
)
def test_errors_name_what_is_wrong(rota_cli: Run, args: list[str], code: int, message: str) -> None:
    result = rota_cli(*args)
    assert result.exit_code == code, result.output
    assert result.stderr.startswith(message), result.stderr
    assert "Traceback" not in result.output


def test_a_job_in_live_code_is_not_removed(rota_cli: Run) -> None:
    result = rota_cli("jobs", "rm", "echo", "--yes")
    assert result.exit_code == 1
    assert "echo" in result.stderr
    assert rota_cli("jobs", "show", "echo").exit_code == 0


def test_rm_asks_first(rota_cli: Run) -> None:
    result = rota_cli("jobs", "rm", "echo", input="n\n")
    assert result.exit_code == 1
    assert "Delete job 'echo' and all its runs?" in result.output
    assert rota_cli("jobs", "show", "echo").exit_code == 0


def test_rm_of_an_unknown_job_says_so_before_asking(rota_cli: Run) -> None:
    result = rota_cli("jobs", "rm", "nope", input="y\n")
    assert result.exit_code == 1
    assert result.stderr == "error: job: no job is named 'nope'\n"
    assert "Delete" not in result.output


def test_watch_draws_the_table_and_the_running_runs(rota_cli: Run, served: Served) -> None:
    run_id = start_slow(served)
    try:
        # Into a pipe, a live table is drawn once, at its end.
        result = rota_cli("jobs", "--watch", "--interval", "0.1", "--times", "2")
        assert result.exit_code == 0, result.output
        assert "nightly" in result.stdout
        assert re.search(rf"{run_id}\s+slow\s+.*1/4 \(25%\) waiting", result.stdout), result.stdout
    finally:
        rota_cli("runs", "cancel", str(run_id))


def test_run_at_a_later_time_queues_it(rota_cli: Run) -> None:
    result = rota_cli("jobs", "run", "echo", "text=later", "--at", "2030-01-02T03:04:05+01:00")
    assert result.exit_code == 0, result.output
    assert re.fullmatch(r"run \d+ of echo queued for 2030-01-02 02:04:05 UTC\n", result.stdout)
    run_id = result.stdout.split()[1]
    shown = rota_cli("runs", "show", run_id).stdout
    assert "not before    2030-01-02 02:04:05 UTC" in shown
    assert rota_cli("runs", "cancel", run_id).stdout == f"run {run_id} cancelled\n"
