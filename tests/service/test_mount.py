"""The service mounted under a sub-path of an existing FastAPI app."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from rota import Rota, asgi
from tests.service.conftest import ADMIN
from tests.service.server import Stream, client, serving


def test_it_works_mounted_under_a_sub_path(tmp_path: Path) -> None:
    rota = Rota(f"sqlite:///{tmp_path}/app.db", timezone="UTC")

    @rota.job("hello")
    def hello() -> None:
        """Say hello."""

    outer = FastAPI()

    @outer.get("/")
    def home() -> dict[str, str]:
        return {"app": "mine"}

    outer.mount("/jobs-admin", asgi(rota, admin_token=ADMIN, token_file=tmp_path / "t"))
    with serving(outer) as server, client(server, ADMIN) as http:
        assert http.get("/").json() == {"app": "mine"}
        assert http.get("/jobs-admin/healthz").status_code == 200
        spec = http.get("/jobs-admin/api/openapi.json").json()
        assert spec["servers"] == [{"url": "/jobs-admin"}]
        assert "/api/jobs" in spec["paths"]
        names = [job["name"] for job in http.get("/jobs-admin/api/jobs").json()]
        assert names == ["hello"]
        created = http.post("/jobs-admin/api/jobs/hello/runs")
        assert created.status_code == 201  # queued: no engine runs in this app
        assert http.get(f"/jobs-admin/api/runs/{created.json()['id']}").json()["status"] == (
            "queued"
        )
        with Stream(http, "/jobs-admin/api/events?after=0") as stream:
            assert stream.next_event()["event"] == "job.added"
        assert http.get("/api/jobs").status_code == 404  # nothing outside the mount
    rota.close()


def test_start_engine_in_a_mounted_app_is_refused_naming_the_fix(tmp_path: Path) -> None:
    # Starlette runs no lifespan for a mounted app, so the engine asked for would never start.
    rota = Rota(f"sqlite:///{tmp_path}/app.db", timezone="UTC")
    outer = FastAPI()
    admin = asgi(rota, start_engine=True, admin_token=ADMIN, token_file=tmp_path / "t")
    outer.mount("/jobs-admin", admin)
    with serving(outer) as server, client(server, ADMIN) as http:
        for path in ("/jobs-admin/api/jobs", "/jobs-admin/healthz"):
            answer = http.get(path)
            assert answer.status_code == 503
            assert answer.json()["field"] == "start_engine"
            assert "running()" in answer.json()["message"]
    assert rota.engine is None
    rota.close()
