"""`python -m rota.demo --fast` end to end: it prints its URL and token, runs jobs to success that
the service reports, and stops on Ctrl-C, promptly and with exit status 0. Polls with deadlines:
it must pass on a busy 2-core machine."""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).parent.parent.parent
BANNER = re.compile(r"^rota demo: (http://\S+)  admin token: (\S+)  \(Ctrl-C stops\)$")
# Jobs whose first fire time in --fast comes within 15 s: they must all have succeeded.
EXPECTED = {"source-search", "stats-update", "sync-users", "watch-history", "library-scan"}
# Runs of issue 13's features, within the same 90 s: library-build after recommendations
# (embeddings come within 25 s), and the artwork runs the first scan (within 30 s) spawns.
FEATURES = {"library-build": "dependency", "fetch-artwork": "spawned"}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def lines_of(process: subprocess.Popen[str]) -> tuple[queue.Queue[str], threading.Thread]:
    """The process's stdout lines, read in a thread (a pipe read would block the deadline)."""
    found: queue.Queue[str] = queue.Queue()

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            found.put(line.rstrip("\n"))

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    return found, reader


def get(url: str, token: str, path: str, **query: str) -> Any:
    request = urllib.request.Request(
        f"{url}{path}?{urllib.parse.urlencode(query)}",
        headers={"Authorization": f"Bearer {token}"},
    )
    with urllib.request.urlopen(request, timeout=20) as response:
        return json.load(response)


def succeeded(url: str, token: str, job: str, **query: str) -> dict[str, Any] | None:
    page = get(url, token, "/api/runs", job=job, status="succeeded", limit="1", **query)
    return page["items"][0] if page["items"] else None


@pytest.mark.timeout(240)  # its own deadlines are shorter: they say what was late
def test_the_fast_demo_runs_jobs_to_success_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)])}
    port = free_port()
    command = [sys.executable, "-m", "rota.demo", "--fast", "--port", str(port)]
    errors = (tmp_path / "stderr").open("w+")  # a file: a full pipe would block the demo
    process = subprocess.Popen(
        [*command, "--data-dir", str(tmp_path / "demo")],
        stdout=subprocess.PIPE,
        stderr=errors,
        text=True,
        env=env,
    )
    reader = None
    try:
        lines, reader = lines_of(process)
        first = lines.get(timeout=60)
        match = BANNER.match(first)
        assert match, first
        url, token = match.groups()
        assert url == f"http://127.0.0.1:{port}"
        assert (tmp_path / "demo" / "admin-token").read_text().strip() == token

        listed = {job["name"]: job for job in get(url, token, "/api/jobs")}
        jobs = set(listed)
        assert len(jobs) == 14
        assert jobs >= EXPECTED | FEATURES.keys()
        assert listed["library-build"]["upstream"] == ["recommendations"]
        assert listed["recommendations"]["upstream"] == ["embeddings"]
        assert listed["embeddings"]["downstream"] == ["recommendations"]
        (tmdb,) = [found for found in get(url, token, "/api/limiters") if found["name"] == "tmdb"]
        assert tmdb["capacity"] == 40
        done: dict[str, dict[str, Any]] = {}
        features: dict[str, dict[str, Any]] = {}
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and not (
            done.keys() >= EXPECTED and features.keys() >= FEATURES.keys()
        ):
            for job in jobs - done.keys():
                run = succeeded(url, token, job)
                if run is not None:
                    done[job] = run
            for job, reason in FEATURES.items():
                run = succeeded(url, token, job, reason=reason)
                if run is not None:
                    features[job] = run
            time.sleep(0.2)
        assert done.keys() >= EXPECTED, f"succeeded within 90 s: {sorted(done)}"
        assert features.keys() >= FEATURES.keys(), f"within 90 s: {sorted(features)}"
        scan = done["library-scan"]  # a run with progress, finished
        assert scan["progress_total"] > 0
        assert scan["progress_done"] == scan["progress_total"]
        assert features["library-build"]["note"].startswith("after recommendations (run ")
        artwork = features["fetch-artwork"]
        assert artwork["parent_run_id"] is not None
        assert artwork["args"]["title_id"] > 0

        process.send_signal(signal.SIGINT)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        if reader is not None:
            reader.join(timeout=10)
        assert process.stdout is not None
        process.stdout.close()
        errors.seek(0)
        err = errors.read()
        errors.close()
    assert process.returncode == 0, err
    assert "Traceback" not in err, err
    rest = [lines.get_nowait() for _ in range(lines.qsize())]  # the reader has ended
    assert any(line.startswith("rota demo: stopped; ") for line in rest), rest


@pytest.mark.timeout(120)
def test_sigterm_stops_the_demo_as_ctrl_c_does(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)])}
    command = [sys.executable, "-m", "rota.demo", "--fast", "--port", str(free_port())]
    process = subprocess.Popen(
        [*command, "--data-dir", str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    reader = None
    try:
        lines, reader = lines_of(process)
        assert BANNER.match(lines.get(timeout=60))  # serving, the engine started
        process.terminate()
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        if reader is not None:
            reader.join(timeout=10)
        assert process.stdout is not None
        process.stdout.close()
    assert process.returncode == 0
    rest = [lines.get_nowait() for _ in range(lines.qsize())]
    assert any(line.startswith("rota demo: stopped; ") for line in rest), rest
