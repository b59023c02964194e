"""Two real nodes on PostgreSQL hammer one limiter: together they never exceed it (decision 0012).

Each node (tests/e2e/limiter_app.py) runs two runs that acquire as fast as the limiter lets
them, and reports the instant of every acquisition; the test checks every window of the period
over all of them. A bounded run: 2 nodes x 2 runs x 30 acquisitions of a limit of 10 a second
take at least 11 s; the test polls for the nodes' reports with a deadline.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.postgres import fresh_schema_url

APP = Path(__file__).with_name("limiter_app.py")
ROOT = Path(__file__).parents[2]
CALLS = 30  # a run's acquisitions
CAPACITY, PERIOD = 10, 1.0
DEADLINE = 120.0  # seconds: the nodes need about 12 s; a busy machine may take a few times that


@pytest.fixture
def store_url() -> Iterator[str]:
    yield from fresh_schema_url()


def test_two_nodes_never_exceed_a_shared_limiter_together(store_url: str, tmp_path: Path) -> None:
    path = [str(ROOT / "src"), str(ROOT), os.environ.get("PYTHONPATH", "")]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in path if p)}
    outs = [tmp_path / f"node-{i}.txt" for i in range(2)]
    logs = [tmp_path / f"node-{i}.log" for i in range(2)]
    nodes = []
    for node, (out, log) in enumerate(zip(outs, logs, strict=True)):
        with log.open("wb") as sink:
            nodes.append(
                subprocess.Popen(
                    [sys.executable, str(APP), store_url, str(out), str(CALLS), str(node)],
                    cwd=ROOT,
                    env=env,
                    stdout=sink,
                    stderr=subprocess.STDOUT,
                )
            )
    try:
        deadline = time.monotonic() + DEADLINE
        while not all(out.exists() for out in outs):
            failed = [n for n in nodes if n.poll() not in (None, 0)]
            if failed or time.monotonic() > deadline:
                shown = "\n".join(log.read_text(errors="replace")[-3000:] for log in logs)
                raise AssertionError(f"the nodes did not report within {DEADLINE} s:\n{shown}")
            time.sleep(0.1)  # polling for the reports: the nodes take seconds
    finally:
        for node in nodes:
            try:
                node.wait(timeout=30)
            except subprocess.TimeoutExpired:
                node.kill()
                node.wait()
    spent: list[float] = []
    for out in outs:
        lines = out.read_text().split()
        assert lines[-1] == "done", lines[-1]
        spent.extend(float(line) for line in lines[:-1])
    assert len(spent) == 2 * 2 * CALLS
    spent.sort()
    busiest = max(
        sum(1 for at in spent[i:] if at < start + PERIOD) for i, start in enumerate(spent)
    )
    assert busiest <= CAPACITY, busiest
    # Throttled, not starved: all of it within a few times the least it could take.
    least = (len(spent) / CAPACITY - 1) * PERIOD
    print(f"{len(spent)} acquisitions over {spent[-1] - spent[0]:.1f} s (at least {least} s)")
    assert spent[-1] - spent[0] >= least
