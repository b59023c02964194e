"""Server-sent events: every committed event as ``id:``/``event:``/``data:``, resumed after
``Last-Event-ID`` with nothing lost, heartbeat comments on an idle stream, and a stream that
ends when its client goes or the server stops; also with the engine in another process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest

from rota import Rota, asgi
from tests.postgres import store_url_for
from tests.service.conftest import ADMIN, HEARTBEAT, VIEWER, Service
from tests.service.server import Stream, client, serving, until

ROOT = Path(__file__).parents[2]
APP = ROOT / "tests" / "e2e" / "admin_app.py"


def of_run(run_id: int, kind: str) -> object:
    return lambda event: event["event"] == kind and json.loads(event["data"])["run_id"] == run_id


def test_events_arrive_and_a_reconnect_resumes_after_the_last_id(service: Service) -> None:
    start = service.rota.store.last_event_id()
    with Stream(service.viewer, f"/api/events?after={start}") as stream:
        assert stream.response.status_code == 200
        assert stream.response.headers["content-type"].startswith("text/event-stream")
        run_id = service.admin.post("/api/jobs/echo/runs", json={"args": {"text": "x"}}).json()[
            "id"
        ]
        queued = stream.until(of_run(run_id, "run.queued"), "run.queued")
        data = json.loads(queued["data"])
        assert queued["id"] == str(data["id"])
        assert data["job"] == "echo"
        assert data["data"]["reason"] == "manual"
        assert "origin" not in data
    # Gone before the run finished: what it missed comes after its last id.
    until(
        lambda: service.viewer.get(f"/api/runs/{run_id}").json()["finished_at"],
        "the run to finish",
    )
    with Stream(service.viewer, "/api/events", {"Last-Event-ID": queued["id"]}) as again:
        started = again.until(of_run(run_id, "run.started"), "run.started")
        done = again.until(of_run(run_id, "run.finished"), "run.finished")
        assert int(queued["id"]) < int(started["id"]) < int(done["id"])
        assert json.loads(done["data"])["data"]["status"] == "succeeded"
        assert all(int(e["id"]) > int(queued["id"]) for e in again.events)


def test_an_idle_stream_gets_heartbeat_comments(service: Service) -> None:
    with Stream(service.viewer, "/api/events") as stream:
        took = stream.comments_until(3)
    assert took < 3 * HEARTBEAT + 2, f"3 comments took {took:.1f} s at {HEARTBEAT} s apart"


def _connections(service: Service) -> int:
    return len(service.server.uvicorn.server_state.connections)


def test_a_stream_ends_when_its_client_goes(service: Service) -> None:
    with client(service.server, VIEWER) as other:
        stream = Stream(other, "/api/events")
        stream.comments_until(1)  # open on the server
        during = _connections(service)
        stream.close()
    until(lambda: _connections(service) < during, "the server to let the stream go", 5)


def test_the_server_stops_promptly_with_a_stream_open(tmp_path: Path) -> None:
    rota = Rota(f"sqlite:///{tmp_path}/rota.db", timezone="UTC")
    app = asgi(rota, admin_token=ADMIN, token_file=tmp_path / "token", heartbeat=0.2)
    with serving(app) as server:
        http = client(server, ADMIN)
        stream = Stream(http, "/api/events")
        stream.comments_until(1)  # the stream is open
        took = server.stop()
        with pytest.raises((EOFError, httpx2.HTTPError)):  # ended, or the connection closed
            stream.next_event()
        stream.close()
        http.close()
    rota.close()
    assert took < 3, f"uvicorn took {took:.1f} s to stop with an event stream open"


# -- the engine in another process ----------------------------------------------------------


@pytest.fixture(params=["sqlite", "postgresql"])
def other_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    yield from store_url_for(request.param, tmp_path)


@pytest.fixture
def app_process(other_store: str, tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """tests/e2e/admin_app.py: an app with its engine, in a process of its own."""
    marks = tmp_path / "marks"
    marks.mkdir()
    log = tmp_path / "app.log"
    path = [str(ROOT / "src"), str(ROOT), os.environ.get("PYTHONPATH", "")]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in path if p)}
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, str(APP), other_store, str(marks)],
            cwd=ROOT,
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    try:
        until(lambda: "admin_app: started" in log.read_text(), "the app to start", 30)
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_events_of_an_engine_in_another_process_arrive_and_resume(
    other_store: str, app_process: subprocess.Popen[bytes], tmp_path: Path
) -> None:
    rota = Rota(other_store, timezone="UTC")  # no engine, no jobs: the API's process
    app = asgi(rota, admin_token=ADMIN, token_file=tmp_path / "token", heartbeat=0.2)
    with serving(app) as server, client(server, ADMIN) as http:
        start = rota.store.last_event_id()
        with Stream(http, f"/api/events?after={start}") as stream:
            created = http.post("/api/jobs/greet/runs", json={"args": {"name": "Ada"}})
            assert created.status_code == 201, created.text
            run_id = created.json()["id"]
            queued = stream.until(of_run(run_id, "run.queued"), "run.queued")
        with Stream(http, "/api/events", {"Last-Event-ID": queued["id"]}) as again:
            started = again.until(of_run(run_id, "run.started"), "run.started (other process)")
            done = again.until(of_run(run_id, "run.finished"), "run.finished (other process)")
        assert json.loads(started["data"])["data"]["node"] != ""
        assert json.loads(done["data"])["data"]["status"] == "succeeded"
        nodes = http.get("/api/nodes").json()
        assert [n["pid"] for n in nodes if n["alive"]] == [app_process.pid]
    rota.close()
