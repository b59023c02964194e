"""``GET /api/recent``: each job's last runs, oldest first, for the jobs page's strip."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from rota import Rota, asgi
from tests.web.test_timeline_api import ADMIN, VIEWER


def test_each_jobs_last_runs_oldest_first(tmp_path: Path) -> None:
    rota = Rota(f"sqlite:///{tmp_path}/r.db", timezone="UTC")
    rota.add_job("a", "tests.service.service_jobs:add")
    rota.add_job("b", "tests.service.service_jobs:add")
    # No engine runs here: the first stays queued, the others are skipped (overlap "skip").
    ids = [rota.run_now("a", a=n) for n in range(5)]
    rota.cancel(ids[0])
    app = asgi(rota, admin_token=ADMIN, viewer_token=VIEWER, token_file=tmp_path / "tokens")
    try:
        with TestClient(app, headers={"Authorization": f"Bearer {VIEWER}"}) as http:
            body = http.get("/api/recent?n=3").json()
            assert [strip["job"] for strip in body] == ["a", "b"]
            assert [run["id"] for run in body[0]["runs"]] == ids[-3:]
            assert {run["status"] for run in body[0]["runs"]} == {"skipped"}
            assert all(run["note"] for run in body[0]["runs"])  # why it was skipped
            assert body[1]["runs"] == []
            everything = http.get("/api/recent?n=50").json()[0]["runs"]
            assert everything[0] == {
                "id": ids[0],
                "status": "cancelled",
                "queued_at": everything[0]["queued_at"],
                "finished_at": everything[0]["finished_at"],
                "duration_seconds": None,
                "note": None,
            }
            assert http.get("/api/recent?n=0").status_code == 422
            assert http.get("/api/recent?n=51").status_code == 422
    finally:
        rota.close()
