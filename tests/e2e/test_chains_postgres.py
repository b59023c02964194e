"""A chain of four jobs on two PostgreSQL nodes, real processes, one killed mid-chain
(decision 0011): every job runs once per success of the job before it, in order, and the
successes the dead node recorded, or its runs that were retried elsewhere, trigger exactly once.

It never restarts the server; it runs in a schema of its own.
"""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row
from sqlalchemy.engine import make_url

from rota import Rota
from tests.postgres import create_schema, drop_schema, in_schema, server_url

APP = Path(__file__).with_name("chain_app.py")
CHAIN = ("sync", "embeddings", "recommendations", "library-build")
SYNCS = 6


def query(url: str, sql: str, *params: Any) -> list[dict[str, Any]]:
    conninfo = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(conninfo, autocommit=True, connect_timeout=5) as connection:
        cursor = connection.cursor(row_factory=dict_row)
        cursor.execute(sql, params)  # type: ignore[arg-type]
        return cursor.fetchall() if cursor.description else []


@pytest.fixture
def schema_url() -> Iterator[str]:
    server = server_url()
    name = create_schema(server)
    url = in_schema(server, name)
    try:
        query(
            url,
            "CREATE TABLE effects (job text NOT NULL, run_id bigint NOT NULL,"
            " attempt integer NOT NULL, pid integer NOT NULL)",
        )
        yield url
    finally:
        drop_schema(server, name)


def wait_for(
    reached: Callable[[], bool], timeout: float, what: str, logs: Callable[[], str]
) -> None:
    deadline = time.monotonic() + timeout
    while not reached():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not reached within {timeout} s\n{logs()}")
        time.sleep(0.05)


def test_a_chain_of_four_runs_once_per_success_with_a_node_killed(
    schema_url: str, tmp_path: Path
) -> None:
    url = schema_url
    outputs = [tmp_path / f"node-{i}.log" for i in range(2)]
    nodes: list[subprocess.Popen[bytes]] = []

    def logs() -> str:
        runs = query(url, "SELECT id, job, reason, status, attempt, retry_of, note FROM runs")
        said = "\n".join(path.read_text(errors="replace")[-4000:] for path in outputs)
        return "\n".join(str(run) for run in runs) + "\n" + said

    try:
        for output in outputs:
            with output.open("wb") as sink:
                nodes.append(
                    subprocess.Popen(
                        [sys.executable, str(APP), url],
                        cwd=Path(__file__).parents[2],
                        stdout=sink,
                        stderr=subprocess.STDOUT,
                    )
                )
        wait_for(
            lambda: all("ready" in path.read_text(errors="replace") for path in outputs),
            60,
            "both nodes started",
            logs,
        )
        admin = Rota(url, timezone="UTC")
        try:
            for _ in range(SYNCS):
                admin.run_now("sync")
        finally:
            admin.close()

        # Kill a node while it runs a job of the chain past the first.
        def running_mid_chain() -> list[dict[str, Any]]:
            return query(
                url,
                "SELECT nodes.pid FROM runs JOIN nodes ON nodes.id = runs.node"
                " WHERE runs.status = 'running' AND runs.job <> 'sync'",
            )

        wait_for(lambda: bool(running_mid_chain()), 60, "a chain job running", logs)
        victim_pid = running_mid_chain()[0]["pid"]
        victim = next(node for node in nodes if node.pid == victim_pid)
        os.kill(victim.pid, signal.SIGKILL)
        victim.wait(timeout=10)

        def all_built() -> bool:
            rows = query(
                url,
                "SELECT count(*) AS n FROM runs WHERE job = 'library-build'"
                " AND status = 'succeeded'",
            )
            return bool(rows[0]["n"] >= SYNCS)

        wait_for(all_built, 60, "every library build", logs)
        survivor = next(node for node in nodes if node is not victim)
        time.sleep(1)  # nothing more may come: a second trigger would show now
        survivor.send_signal(signal.SIGTERM)
        assert survivor.wait(timeout=30) == 0, logs()
    finally:
        for node in nodes:
            if node.poll() is None:
                node.kill()
                node.wait(timeout=10)

    runs = query(url, "SELECT * FROM runs ORDER BY id")
    by_id = {run["id"]: run for run in runs}
    succeeded = Counter(run["job"] for run in runs if run["status"] == "succeeded")
    assert succeeded == dict.fromkeys(CHAIN, SYNCS), (succeeded, logs())
    for upstream, job in itertools.pairwise(CHAIN):
        # One dependency run per success of the job before, each linked to a different one,
        # which had finished before it was queued.
        triggered = [run for run in runs if run["job"] == job and run["reason"] == "dependency"]
        # The link: the run's upstream_runs, written with it; its run.queued event says the
        # same (and the note too, until a reaper's note replaces it).
        queued = {
            event["run_id"]: event["data"]["upstream_runs"]
            for event in query(
                url, "SELECT run_id, data FROM events WHERE kind = 'run.queued' AND job = %s", job
            )
            if "upstream_runs" in event["data"]  # not a retry's
        }
        linked = []
        for run in triggered:
            assert run["upstream_runs"] == queued[run["id"]], run
            source = by_id[run["upstream_runs"][upstream]]
            assert (source["job"], source["status"]) == (upstream, "succeeded"), source
            assert source["finished_at"] <= run["queued_at"]
            if run["status"] == "succeeded":
                assert run["note"] == f"after {upstream} (run {source['id']})", run
            linked.append(source["id"])
        assert len(triggered) == len(set(linked)) == SYNCS, (job, triggered)
    # A run the dead node was running was recorded interrupted and retried, never doubled.
    retries = Counter(run["retry_of"] for run in runs if run["retry_of"] is not None)
    assert all(n == 1 for n in retries.values()), retries
    effects = query(url, "SELECT job, run_id FROM effects")
    assert {e["run_id"] for e in effects} >= {
        run["id"] for run in runs if run["status"] == "succeeded"
    }
