"""/healthz, /readyz and /metrics."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from rota import Rota, asgi
from rota.service.metrics import RotaCollector
from tests.service.conftest import ADMIN, Service
from tests.service.server import client, serving
from tests.service.test_jobs import finished


def test_healthz_and_readyz(service: Service) -> None:
    assert service.anonymous.get("/healthz").json() == {"status": "ok", "reason": None}
    ready = service.viewer.get("/readyz")
    assert ready.status_code == 200, ready.text
    assert ready.json()["status"] == "ok"


def test_readyz_is_503_when_the_engine_it_should_run_is_not_running(tmp_path: Path) -> None:
    rota = Rota(f"sqlite:///{tmp_path}/app.db", timezone="UTC")
    app = asgi(rota, admin_token=ADMIN, token_file=tmp_path / "t")
    app.state.rota_start_engine = True  # as if its lifespan had failed to start the engine
    with serving(app) as server, client(server, ADMIN) as http:
        response = http.get("/readyz")
        assert response.status_code == 503
        assert response.json() == {"status": "unavailable", "reason": "the engine is not running"}
        app.state.rota_start_engine = False
        assert http.get("/readyz").status_code == 200  # no engine here, none expected
    rota.close()


def test_readyz_is_503_when_the_store_cannot_be_reached(tmp_path: Path) -> None:
    rota = Rota(f"sqlite:///{tmp_path}/missing/dir/app.db", timezone="UTC")
    app = asgi(rota, admin_token=ADMIN, token_file=tmp_path / "t")
    with serving(app) as server, client(server, ADMIN) as http:
        response = http.get("/readyz")
        assert response.status_code == 503
        assert response.json()["reason"].startswith("the store cannot be reached")
        assert ADMIN not in response.text


def test_metrics_are_collected_from_the_store(service: Service) -> None:
    finished(service, service.admin.post("/api/jobs/echo/runs").json()["id"])
    response = service.viewer.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    families = {f.name: f for f in text_string_to_metric_families(response.text)}
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in families.values()
        for s in family.samples
    }
    assert samples[("rota_runs", (("job", "echo"), ("status", "succeeded")))] >= 1
    assert ("rota_job_last_success_timestamp_seconds", (("job", "echo"),)) in samples
    assert ("rota_job_next_fire_timestamp_seconds", (("job", "nightly"),)) in samples
    assert ("rota_job_consecutive_failures", (("job", "echo"),)) in samples
    assert ("rota_job_skipped_for_overlap", (("job", "echo"),)) in samples
    assert ("rota_queue_depth", ()) in samples
    # The engine's lag (this process runs it): behind or not, and by how much.
    assert samples[("rota_engine_behind", ())] in (0.0, 1.0)
    assert samples[("rota_engine_lateness_seconds", ())] >= 0
    for name in ("behind_episodes", "fire_times", "fire_times_coalesced", "jobs_set_aside"):
        assert samples[(f"rota_engine_{name}_total", ())] >= 0
    labels = {key for family in families.values() for s in family.samples for key in s.labels}
    assert labels <= {"job", "status"}, labels


def test_the_engine_lag_metrics_read_this_processes_engine() -> None:
    rota = Rota("memory://lag-metrics", timezone="UTC")
    collector = RotaCollector(rota)
    assert not [m for m in collector.collect() if m.name.startswith("rota_engine")]  # no engine
    rota.start()
    try:
        engine = rota.engine
        assert engine is not None
        lag = engine.lag
        lag.behind, lag.lateness, lag.backlog = True, timedelta(seconds=4.5), 300
        lag.episodes, lag.coalesced, lag.parked = 2, 1234, 56
        values = {
            s.name: s.value
            for m in collector.collect()
            if m.name.startswith("rota_engine")
            for s in m.samples
        }
    finally:
        rota.stop()
        rota.close()
    assert values["rota_engine_behind"] == 1.0
    assert values["rota_engine_lateness_seconds"] == 4.5
    assert values["rota_engine_backlog"] == 300
    assert values["rota_engine_behind_episodes_total"] == 2
    assert values["rota_engine_fire_times_coalesced_total"] == 1234
    assert values["rota_engine_jobs_set_aside_total"] == 56
