"""Chains and prerequisites through the API: a job's upstream and downstream jobs are listed, a
broken chain is a 422 naming the cycle or the job, `requires` is refused as code, and a run
whose prerequisite is not met is skipped with its reason."""

from __future__ import annotations

from typing import Any

from tests.service.conftest import Service
from tests.service.server import until
from tests.service.test_jobs import finished


def test_an_after_schedule_is_listed_both_ways_and_a_cycle_is_refused(service: Service) -> None:
    try:
        patched = service.admin.patch("/api/jobs/echo", json={"schedule": "after slow"})
        assert patched.status_code == 200, patched.text
        echo = patched.json()
        assert (echo["upstream"], echo["schedule"]["text"]) == (["slow"], "after slow")
        assert echo["next_fire_at"] is None
        assert "echo" in service.viewer.get("/api/jobs/slow").json()["downstream"]
        listed = {job["name"]: job for job in service.viewer.get("/api/jobs").json()}
        assert listed["echo"]["upstream"] == ["slow"]
        assert listed["nightly"]["upstream"] == listed["nightly"]["downstream"] == []

        cycle = service.admin.patch("/api/jobs/slow", json={"schedule": "after echo"})
        assert cycle.status_code == 422
        body = cycle.json()
        assert body["field"] == "schedule"
        assert "cycle: slow → echo → slow" in body["reason"], body
        unknown = service.admin.patch("/api/jobs/slow", json={"schedule": "after nobody"})
        assert unknown.status_code == 422
        assert "there is no job 'nobody'" in unknown.json()["reason"]
        assert "schedule" not in service.viewer.get("/api/jobs/slow").json()["overrides"]
        # A job others are after cannot be removed from under them.
        gone = service.admin.delete("/api/jobs/slow")
        assert gone.status_code == 409
    finally:
        service.admin.delete("/api/jobs/echo/overrides/schedule")
    assert service.viewer.get("/api/jobs/slow").json()["downstream"] == []


def test_a_dependency_run_links_to_the_upstream_run_that_triggered_it(service: Service) -> None:
    try:
        patched = service.admin.patch("/api/jobs/echo", json={"schedule": "after nightly"})
        assert patched.status_code == 200, patched.text
        nightly = finished(service, service.admin.post("/api/jobs/nightly/runs").json()["id"])
        assert nightly["upstream_runs"] == {}  # a manual run names none

        def dependency_run() -> dict[str, Any] | None:
            params = {"job": "echo", "reason": "dependency"}
            items = service.viewer.get("/api/runs", params=params).json()["items"]
            return items[0] if items else None

        listed = until(dependency_run, "echo's dependency run")
        assert listed["upstream_runs"] == {"nightly": nightly["id"]}
        one = service.viewer.get(f"/api/runs/{listed['id']}").json()
        assert one["upstream_runs"] == {"nightly": nightly["id"]}
    finally:
        service.admin.delete("/api/jobs/echo/overrides/schedule")


def test_the_run_schema_has_upstream_runs_by_job(service: Service) -> None:
    schemas = service.viewer.get("/api/openapi.json").json()["components"]["schemas"]
    for name in ("RunOut", "RunDetail"):
        field = schemas[name]["properties"]["upstream_runs"]
        assert field["type"] == "object", field
        assert field["additionalProperties"] == {"type": "integer"}
        assert "upstream runs that triggered it" in field["description"]


def test_requires_cannot_be_overridden(service: Service) -> None:
    response = service.admin.patch("/api/jobs/echo", json={"requires": []})
    assert response.status_code == 422
    body = response.json()
    assert body["field"] == "requires"
    assert body["message"].startswith("requires: is the job's code (prerequisites are"), body
    assert "an admin cannot override it" in body["reason"], body


def test_a_run_whose_prerequisite_is_not_met_is_skipped_with_its_reason(service: Service) -> None:
    run = finished(service, service.admin.post("/api/jobs/gated/runs").json()["id"])
    assert (run["status"], run["note"]) == ("skipped", "no API key: set GATED_KEY")
    listed = service.viewer.get("/api/runs", params={"job": "gated"}).json()["items"]
    assert [(item["id"], item["note"]) for item in listed] == [(run["id"], run["note"])]
