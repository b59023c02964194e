"""A node paused (SIGSTOP) for longer than its lease, on PostgreSQL, with real processes
(decision 0007): a live node reaps it and retries its runs; when it resumes it stops those
runs, its late writes are refused, and nothing runs twice.

Uses the helpers of test_nodes_postgres.py; it never restarts the server.
"""

from __future__ import annotations

import signal
import time
from collections import Counter
from pathlib import Path

from tests.e2e.test_nodes_postgres import (
    Nodes,
    Plan,
    all_effects,
    all_runs,
    finished,
    node_rows,
    nodes,
    query,
    schema_url,
    wait_for,
)

__all__ = ["nodes", "schema_url"]  # fixtures for this module


def test_a_node_paused_past_its_lease_runs_nothing_twice(
    schema_url: str, nodes: Nodes, tmp_path: Path
) -> None:
    url = schema_url
    # Runs take 5 s (counted in 10 ms steps), so that a paused node has most of its runs'
    # work still to do when it resumes; the lease is short, so that it is reaped soon.
    shots = 12
    plan = Plan.spread(shots=shots, over=0.5, lead=8, ticks=[], heartbeat=0.5, lease=4.0)
    plan.sleeps = {name: 5.0 for name, _ in plan.shots}
    started = nodes.start(plan, tmp_path / "plan.json", count=2)
    wait_for(lambda: all(node.started() for node in started), 30, "nodes started", nodes, url)

    def running_by_pid() -> Counter[int]:
        rows = query(
            url,
            "SELECT nodes.pid FROM runs JOIN nodes ON nodes.id = runs.node"
            " WHERE runs.status = 'running'",
        )
        return Counter(row["pid"] for row in rows)

    wait_for(lambda: sum(running_by_pid().values()) >= shots, 30, "shots running", nodes, url)
    busiest = running_by_pid().most_common(1)[0][0]
    victim = next(node for node in started if node.pid == busiest)
    victim_id = node_rows(url)[victim.pid]["id"]
    taken = {
        row["id"]
        for row in query(
            url, "SELECT id FROM runs WHERE node = %s AND status = 'running'", victim_id
        )
    }
    victim.process.send_signal(signal.SIGSTOP)
    try:
        # The other node finds it dead once its lease ran out, and retries its runs.
        def reaped() -> bool:
            rows = query(url, "SELECT stopped_at FROM nodes WHERE id = %s", victim_id)
            return bool(rows) and rows[0]["stopped_at"] is not None

        wait_for(reaped, 30, "the paused node reaped", nodes, url)

        def retries_running() -> bool:
            rows = query(
                url,
                "SELECT count(*) AS n FROM runs WHERE retry_of = ANY(%s) AND status <> 'queued'",
                list(taken),
            )
            return bool(rows[0]["n"] >= 1)

        wait_for(retries_running, 30, "a retry of its runs started elsewhere", nodes, url)
    finally:
        victim.process.send_signal(signal.SIGCONT)
    resumed = time.monotonic()

    names = [name for name, _ in plan.shots]
    wait_for(lambda: finished(url, names), 60, "every one-shot succeeded", nodes, url)
    assert [nodes.stop(node) for node in started] == [0, 0], nodes.logs()

    runs, effects = all_runs(url), all_effects(url)
    by_run = Counter(effect["run_id"] for effect in effects)
    by_fire = Counter((effect["job"], effect["fire_time"]) for effect in effects)
    twice = {key: n for key, n in by_fire.items() if n != 1}
    assert twice == {}, f"fire times whose job ran other than once: {twice}\n{nodes.logs()}"
    assert max(by_run.values()) == 1, nodes.logs()
    retries = Counter(run["retry_of"] for run in runs if run["retry_of"] is not None)
    assert [key for key, n in retries.items() if n > 1] == [], runs
    interrupted = {run["id"] for run in runs if run["status"] == "interrupted"}
    assert taken <= interrupted, runs  # recorded by the reaper, never overwritten
    assert not taken & set(by_run), "a reaped run did its effect after its node resumed"
    attempts = Counter((run["job"], run["fire_time"], run["attempt"]) for run in runs)
    assert max(attempts.values()) == 1, runs
    said = victim.text()
    assert "was found dead by another node" in said, nodes.logs()
    assert time.monotonic() - resumed < 120
