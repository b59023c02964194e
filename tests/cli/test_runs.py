"""``rota runs ...`` and ``rota events`` on the store and through the service."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from tests.cli.conftest import ADMIN, Run, Served, invoke, start_slow
from tests.service.server import DEADLINE


def _run(rota_cli: Run, *args: str) -> int:
    result = rota_cli("jobs", "run", *args)
    assert result.exit_code in (0, 1), result.output
    return int(result.stdout.split()[1])


def test_runs_lists_newest_first_with_filters(rota_cli: Run) -> None:
    done = _run(rota_cli, "echo", "text=listed", "--follow")
    failed = _run(rota_cli, "boom", "--follow")
    result = rota_cli("runs", "--job", "echo", "--status", "succeeded", "-n", "5")
    assert result.exit_code == 0, result.output
    rows = [line.split() for line in result.stdout.splitlines()[2:-1]]  # header, rule; total
    assert {row[1] for row in rows} == {"echo"}
    ids = [int(row[0]) for row in rows]
    assert done in ids
    assert failed not in ids
    assert ids == sorted(ids, reverse=True)
    assert re.search(r"^\d+ of \d+ runs", result.stdout.splitlines()[-1])
    failures = rota_cli("runs", "--status", "failed", "--json")
    assert failed in [run["id"] for run in json.loads(failures.stdout)["items"]]


def test_show_prints_the_log_and_traceback(rota_cli: Run) -> None:
    failed = _run(rota_cli, "boom", "--follow")
    result = rota_cli("runs", "show", str(failed))
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert out.splitlines()[0] == f"run {failed}  boom  failed"
    assert "error         RuntimeError: boom went the job" in out
    assert "\ntraceback:\nTraceback (most recent call last):" in out


def test_show_names_the_upstream_runs_of_a_dependency_run(rota_cli: Run, served: Served) -> None:
    from rota.store.records import Reason
    from tests.service.server import until

    served.rota.set_schedule("echo", "after nightly")
    try:
        nightly = _run(rota_cli, "nightly", "--follow")

        def dependency_run() -> int | None:
            runs = served.rota.runs("echo", reason=[Reason.DEPENDENCY.value])
            found = [run.id for run in runs if run.upstream_runs == {"nightly": nightly}]
            return found[0] if found else None

        run_id = until(dependency_run, "echo's run after nightly")
    finally:
        served.rota.reset("echo", "schedule")
    result = rota_cli("runs", "show", str(run_id))
    assert result.exit_code == 0, result.output
    assert "reason        dependency\n" in result.stdout
    assert f"\nafter         nightly (run {nightly})\n" in result.stdout
    shown = json.loads(rota_cli("runs", "show", str(run_id), "--json").stdout)
    assert shown["upstream_runs"] == {"nightly": nightly}
    # A run of any other reason names none, and shows no such line.
    manual = rota_cli("runs", "show", str(nightly))
    assert "\nafter " not in manual.stdout
    assert (
        json.loads(rota_cli("runs", "show", str(nightly), "--json").stdout)["upstream_runs"] == {}
    )


def test_runs_lists_the_runs_a_run_spawned(rota_cli: Run) -> None:
    parent = _run(rota_cli, "fan-out", "items=3", "--follow")
    result = rota_cli("runs", "--parent", str(parent))
    assert result.exit_code == 0, result.output
    rows = [line.split() for line in result.stdout.splitlines()[2:-1]]
    assert [(row[1], row[2]) for row in rows] == [("echo", "spawned")] * 3
    assert result.stdout.splitlines()[-1] == "3 of 3 runs"
    page = json.loads(rota_cli("runs", "--parent", str(parent), "--json").stdout)
    assert {run["parent_run_id"] for run in page["items"]} == {parent}
    shown = rota_cli("runs", "show", str(page["items"][0]["id"]))
    assert f"\nspawned by    run {parent}\n" in shown.stdout
    assert rota_cli("runs", "--parent", str(page["items"][0]["id"])).stdout == "no runs match\n"
    bad = rota_cli("runs", "--parent", "0")
    assert bad.exit_code == 2
    assert "--parent" in bad.stderr


def test_both_ways_show_the_same_run(served: Served) -> None:
    local = {"ROTA_DATABASE_URL": served.url}
    remote = {"ROTA_URL": served.server.url, "ROTA_TOKEN": ADMIN}
    run_id = invoke("jobs", "run", "echo", "--follow", env=local).stdout.split()[1]
    for args in (["runs", "show", run_id, "--json"], ["runs", "--job", "echo", "--json"]):
        here, there = (invoke(*args, env=env) for env in (local, remote))
        assert json.loads(here.stdout) == json.loads(there.stdout), args


def test_cancel_stops_a_running_run(rota_cli: Run, served: Served) -> None:
    run_id = start_slow(served)
    result = rota_cli("runs", "cancel", str(run_id))
    assert result.exit_code == 0, result.output
    assert result.stdout in (  # its node may hear it before the answer is read
        f"run {run_id}: cancel requested (it stops when its node hears it)\n",
        f"run {run_id} cancelled\n",
    )
    followed = rota_cli("runs", "show", str(run_id), "--follow", "--interval", "0.05")
    assert followed.exit_code == 1
    assert followed.stdout.splitlines()[-1].startswith(f"run {run_id} cancelled")


def test_retry_queues_the_next_attempt(rota_cli: Run) -> None:
    failed = _run(rota_cli, "boom", "--follow")
    result = rota_cli("runs", "retry", str(failed))
    assert result.exit_code == 0, result.output
    # queued, or already taken up by the engine by the time the answer is read
    assert re.fullmatch(rf"run \d+ \S+: retry of run {failed}\n", result.stdout)
    again = rota_cli("runs", "retry", str(_run(rota_cli, "echo", "--follow")))
    assert again.exit_code == 1
    assert again.stderr.startswith("error: ")


def test_unknown_runs_and_bad_ids(rota_cli: Run) -> None:
    missing = rota_cli("runs", "show", "999999")
    assert (missing.exit_code, missing.stderr) == (1, "error: run: no run has id 999999\n")
    bad = rota_cli("runs", "show", "zero")
    assert bad.exit_code == 2
    assert "'zero' is not a valid integer" in bad.stderr
    unknown_job = rota_cli("runs", "--job", "nope")
    assert unknown_job.stderr == "error: job: no job is named 'nope'\n"


def test_events_print_what_was_committed(rota_cli: Run) -> None:
    run_id = _run(rota_cli, "echo", "--follow")
    result = rota_cli(
        "events", "--after", "0", "--job", "echo", "--kind", "run.finished", "-n", "1", "--json"
    )
    assert result.exit_code == 0, result.output
    first = json.loads(result.stdout)
    assert first["kind"] == "run.finished"
    assert first["job"] == "echo"
    assert first["run_id"] <= run_id
    lines = rota_cli("events", "--after", "0", "--kind", "run.", "-n", "3").stdout.splitlines()
    assert len(lines) == 3
    assert re.match(r"#\d+  \d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d+)? UTC  run\.", lines[0])


def test_events_follow_new_ones(rota_cli: Run, served: Served) -> None:
    import threading

    # Runs queued while the command follows from now (when it starts listening is not known
    # here, so one comes every 0.2 s until it has seen one): it must print a new one.
    stop = threading.Event()

    def queue_runs() -> None:
        for _ in range(300):
            served.rota.run_now("echo", text="later")
            if stop.wait(0.2):
                return

    feeder = threading.Thread(target=queue_runs)
    feeder.start()
    try:
        result = rota_cli("events", "--job", "echo", "--kind", "run.finished", "-n", "1")
    finally:
        stop.set()
        feeder.join()
    assert result.exit_code == 0, result.output
    assert "run.finished  echo" in result.stdout


@pytest.mark.timeout(60)
def test_events_of_an_unknown_job_is_an_error_not_a_wait(rota_cli: Run) -> None:
    result = rota_cli("events", "--job", "nope")
    assert result.exit_code == 1
    assert result.stderr == "error: job: no job is named 'nope'\n"


def test_events_on_the_store_end_cleanly(served: Served) -> None:
    # A process of its own: what asyncio says of a task left pending shows at the end.
    served.rota.wait(served.rota.run_now("echo"), timeout=DEADLINE)
    done = subprocess.run(
        [sys.executable, "-m", "rota.cli", "events", "--after", "0", "-n", "2"],
        capture_output=True,
        text=True,
        timeout=DEADLINE,
        env={"PATH": "", "PYTHONPATH": ":".join(sys.path), "ROTA_DATABASE_URL": served.url},
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert len(done.stdout.splitlines()) == 2
    assert done.stderr == ""
