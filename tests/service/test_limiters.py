"""Rate limiters and spawned runs through the API (decision 0012)."""

from __future__ import annotations

from typing import Any

from tests.service.conftest import Service
from tests.service.server import until
from tests.service.test_jobs import finished


def _tmdb(service: Service) -> dict[str, Any]:
    response = service.viewer.get("/api/limiters")
    assert response.status_code == 200
    (tmdb,) = [limiter for limiter in response.json() if limiter["name"] == "tmdb"]
    return tmdb  # type: ignore[no-any-return]


def test_a_viewer_sees_each_limiter_s_use_capacity_and_next_refill(service: Service) -> None:
    before = _tmdb(service)
    assert (before["capacity"], before["period_seconds"]) == (40, 10.0)
    assert (before["max_wait_seconds"], before["declared"]) == (60.0, True)
    run = finished(service, service.admin.post("/api/jobs/lookup/runs").json()["id"])
    assert run["status"] == "succeeded"
    after = _tmdb(service)
    # Its grant counts for the period after the grant ends: the run's 2 tokens at least.
    assert after["in_use"] >= 2
    assert after["next_refill"] is not None


def test_a_spawned_run_names_its_parent_and_key(service: Service) -> None:
    parent = finished(service, service.admin.post("/api/jobs/lookup/runs").json()["id"])

    def spawned() -> dict[str, Any] | None:
        page = service.viewer.get("/api/runs", params={"job": "echo", "reason": "spawned"})
        mine = [r for r in page.json()["items"] if r["parent_run_id"] == parent["id"]]
        return mine[0] if mine else None

    child = until(spawned, "the spawned run")
    assert (child["spawn_key"], child["args"]) == ("lookup:0", {"text": "item 0"})


def test_the_runs_a_run_spawned_are_listed_by_parent(service: Service) -> None:
    # The keys are lookup:N: a run of echo still active with one would take its spawn's place.
    active = {"job": "echo", "status": ["queued", "running"]}
    until(lambda: service.viewer.get("/api/runs", params=active).json()["total"] == 0, "idle")
    created = service.admin.post("/api/jobs/lookup/runs", json={"args": {"items": 3}})
    parent = finished(service, created.json()["id"])
    assert parent["status"] == "succeeded"
    page = service.viewer.get("/api/runs", params={"parent_run_id": parent["id"]}).json()
    assert page["total"] == 3
    assert {(r["job"], r["parent_run_id"]) for r in page["items"]} == {("echo", parent["id"])}
    assert sorted(r["spawn_key"] for r in page["items"]) == ["lookup:0", "lookup:1", "lookup:2"]
    none = service.viewer.get("/api/runs", params={"parent_run_id": page["items"][0]["id"]})
    assert none.json()["total"] == 0
    bad = service.viewer.get("/api/runs", params={"parent_run_id": 0})
    assert bad.status_code == 422
    assert bad.json()["field"] == "parent_run_id", bad.json()
