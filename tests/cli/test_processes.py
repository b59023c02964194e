"""``rota worker`` and ``rota serve`` as real processes: they run jobs, answer the CLI through
the service, and stop gracefully on SIGTERM."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from rota import Rota, UnknownJobError
from tests.cli.conftest import ADMIN, invoke
from tests.service.server import DEADLINE, until


def _start(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "rota.cli", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), **(env or {})},
    )


def _stop(process: subprocess.Popen[str]) -> tuple[int, str]:
    """SIGTERM, then its exit code and what it said on stderr."""
    process.send_signal(signal.SIGTERM)
    try:
        _, err = process.communicate(timeout=DEADLINE)
    except subprocess.TimeoutExpired:
        process.kill()
        _, err = process.communicate()
        raise AssertionError(f"it did not stop within {DEADLINE} s: {err}") from None
    return process.returncode, err


def _defines_echo(admin: Rota) -> bool:
    """Whether a live node has ``echo`` in its code (its node row and its jobs' rows are not
    written at one instant)."""
    try:
        return not admin.job_info("echo").orphaned
    except UnknownJobError:
        return False


@pytest.fixture
def store(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path}/rota.db"


def test_a_worker_runs_the_apps_jobs_and_stops_on_sigterm(store: str) -> None:
    admin = Rota(store)
    worker = _start("worker", "tests.cli.app:rota", "--database-url", store)
    try:
        until(lambda: _defines_echo(admin), "the worker's node to register its jobs")
        run_id = admin.run_now("echo", text="from the worker")
        run = admin.wait(run_id, timeout=DEADLINE)
        assert run.status.value == "succeeded"
        assert "echo from the worker" in run.log
    finally:
        code, err = _stop(worker)
        admin.close()
    assert code == 0, err
    assert "rota worker: tests.cli.app:rota running as node " in err
    assert err.rstrip().endswith("rota worker: stopped")


def test_serve_answers_the_cli_through_its_api(store: str) -> None:
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    server = _start(
        "serve",
        "tests.cli.app:rota",
        "--port",
        str(port),
        "--log-level",
        "warning",
        env={"ROTA_DATABASE_URL": store, "ROTA_ADMIN_TOKEN": ADMIN},
    )

    def healthy() -> bool:
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=1) as answer:
                return bool(answer.status == 200)
        except OSError:
            assert server.poll() is None, server.communicate()[1]
            return False

    try:
        until(healthy, "rota serve to answer")
        remote = {"ROTA_URL": url, "ROTA_TOKEN": ADMIN}
        ran = invoke("jobs", "run", "echo", "text=served", "--follow", env=remote)
        assert ran.exit_code == 0, ran.output
        assert "echo served" in ran.stdout
        listed = invoke("jobs", env=remote)
        assert "nightly" in listed.stdout
    finally:
        code, err = _stop(server)
    assert code == 0, err
    assert f"rota serve: tests.cli.app:rota on {url}" in err
    assert err.rstrip().endswith("rota serve: stopped")


def test_serve_without_an_app_is_bad_usage() -> None:
    result = invoke("serve", "nowhere:rota")
    assert result.exit_code == 2
    assert result.stderr.startswith("error: app: module 'nowhere' cannot be imported")


def test_serve_on_a_port_in_use_says_so_before_anything_else(tmp_path: Path) -> None:
    store = f"sqlite:///{tmp_path}/rota.db"
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        server = _start("serve", "tests.cli.app:rota", "--port", str(port), "--database-url", store)
        try:
            _, err = server.communicate(timeout=DEADLINE)
        finally:
            if server.poll() is None:
                server.kill()
                server.communicate()
    assert server.returncode == 1, err
    assert err == (
        f"error: port: 127.0.0.1:{port} is in use (is a rota serve running there? "
        "--port chooses another)\n"
    )
    assert list(tmp_path.iterdir()) == []  # no store made, no token generated and saved


def test_serve_on_an_address_not_of_this_machine_says_so(tmp_path: Path) -> None:
    store = f"sqlite:///{tmp_path}/rota.db"
    result = invoke("serve", "tests.cli.app:rota", "--host", "192.0.2.1", "--database-url", store)
    assert result.exit_code == 2
    assert result.stderr.startswith("error: host: 192.0.2.1 is not an address of this machine (")
    assert list(tmp_path.iterdir()) == []
