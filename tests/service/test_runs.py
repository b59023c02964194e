"""Runs and nodes through the API: filters, paging, one run's log and traceback, cancel,
retry; nodes with their heartbeat's age and running runs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.service.conftest import Service
from tests.service.server import until
from tests.service.test_jobs import finished


def test_runs_are_filtered_and_paged_with_a_total(service: Service) -> None:
    for _ in range(3):  # one after another: overlap=skip would skip a second while one waits
        finished(service, service.admin.post("/api/jobs/echo/runs").json()["id"])
    since = datetime.now(UTC) - timedelta(minutes=5)
    params = {"job": "echo", "status": "succeeded", "limit": 2, "since": since.isoformat()}
    first = service.viewer.get("/api/runs", params=params).json()
    assert first["total"] >= 3
    assert len(first["items"]) == 2
    assert [r["id"] for r in first["items"]] == sorted(
        (r["id"] for r in first["items"]), reverse=True
    )
    assert first["next_cursor"] == first["items"][-1]["id"]
    second = service.viewer.get("/api/runs", params={**params, "cursor": first["next_cursor"]})
    assert all(r["id"] < first["next_cursor"] for r in second.json()["items"])
    assert all(r["job"] == "echo" for r in first["items"] + second.json()["items"])

    by_reason = service.viewer.get(
        "/api/runs", params=[("reason", "manual"), ("reason", "retry"), ("job", "echo")]
    ).json()
    assert {r["reason"] for r in by_reason["items"]} <= {"manual", "retry"}
    later = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    none = service.viewer.get("/api/runs", params={"job": "echo", "since": later}).json()
    assert none == {"items": [], "total": 0, "next_cursor": None}
    until_past = service.viewer.get("/api/runs", params={"job": "echo", "until": since.isoformat()})
    assert until_past.json()["total"] == 0


def test_a_failed_run_shows_its_traceback_and_is_retried_once(service: Service) -> None:
    run_id = service.admin.post("/api/jobs/boom/runs").json()["id"]
    run = finished(service, run_id)
    assert run["status"] == "failed"
    assert "boom went the job" in run["error"]
    assert "RuntimeError" in run["traceback"]
    listed = service.viewer.get("/api/runs", params={"job": "boom", "limit": 1}).json()
    assert "traceback" not in listed["items"][0]
    assert "log" not in listed["items"][0]

    retried = service.admin.post(f"/api/runs/{run_id}/retry")
    assert retried.status_code == 201
    again = finished(service, retried.json()["id"])
    assert again["attempt"] == 2
    assert again["retry_of"] == run_id
    # (A second retry of this manual run is not refused: see the report on Commands.retry,
    # whose "retried already" check rests on a unique key that a NULL fire time escapes.)


def test_a_succeeded_run_cannot_be_retried(service: Service) -> None:
    run_id = service.admin.post("/api/jobs/echo/runs").json()["id"]
    finished(service, run_id)
    response = service.admin.post(f"/api/runs/{run_id}/retry")
    assert response.status_code == 409
    assert response.json()["error"] == "ConflictError"


def test_a_running_run_is_cancelled_and_nodes_show_it(service: Service) -> None:
    run_id = service.admin.post("/api/jobs/slow/runs", json={"args": {"seconds": 30}}).json()["id"]
    until(
        lambda: service.viewer.get(f"/api/runs/{run_id}").json()["status"] == "running",
        "the slow run to start",
    )
    nodes = service.viewer.get("/api/nodes").json()
    ours = [n for n in nodes if n["alive"]]
    assert ours, nodes
    assert run_id in [r["id"] for n in ours for r in n["running"]]
    assert all(n["heartbeat_age_seconds"] >= 0 for n in nodes)

    cancelled = service.admin.post(f"/api/runs/{run_id}/cancel")
    assert cancelled.status_code == 200
    run = finished(service, run_id)
    assert run["status"] == "cancelled"
