"""Jobs through the API: list, get, change, reset, run now and later, add and delete at run
time, and the schedule preview; each against a real server with the engine running."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tests.service.conftest import Service
from tests.service.server import until


def finished(service: Service, run_id: int) -> dict[str, Any]:
    def done() -> dict[str, Any] | None:
        run: dict[str, Any] = service.admin.get(f"/api/runs/{run_id}").json()
        return run if run["finished_at"] else None

    return until(done, f"run {run_id} to finish")


def test_jobs_are_listed_with_what_a_jobs_page_shows(service: Service) -> None:
    response = service.viewer.get("/api/jobs")
    assert response.status_code == 200
    names = [job["name"] for job in response.json()]
    assert {"boom", "echo", "nightly", "slow"} <= set(names)
    assert "rota-prune" not in names
    internal = service.viewer.get("/api/jobs", params={"internal": "true"}).json()
    assert "rota-prune" in [job["name"] for job in internal]

    nightly = service.viewer.get("/api/jobs/nightly").json()
    assert nightly["kind"] == "code"
    assert nightly["in_code"] is True
    assert nightly["schedule"]["text"] == "daily 03:00"
    assert nightly["schedule"]["description"]
    assert len(nightly["next_fire_times"]) == 5
    assert datetime.fromisoformat(nightly["next_fire_at"]).utcoffset() is not None
    assert nightly["settings"]["overlap"] == "skip"


def test_a_patch_overrides_settings_pauses_and_resets(service: Service) -> None:
    patched = service.admin.patch(
        "/api/jobs/nightly", json={"schedule": "daily 04:30", "overlap": "queue", "timeout": "1h"}
    )
    assert patched.status_code == 200, patched.text
    job = patched.json()
    assert job["overrides"]["overlap"] == "queue"
    assert job["schedule"]["text"] == "daily 04:30"
    first = datetime.fromisoformat(job["next_fire_at"])
    assert first.astimezone(_berlin()).strftime("%H:%M") == "04:30"

    paused = service.admin.patch("/api/jobs/nightly", json={"paused": True, "note": "disk full"})
    assert paused.json()["paused"] is True
    assert paused.json()["pause_note"] == "disk full"
    assert paused.json()["next_fire_at"] is None

    one = service.admin.delete("/api/jobs/nightly/overrides/overlap").json()
    assert "overlap" not in one["overrides"]
    assert "schedule" in one["overrides"]
    assert one["paused"] is True

    resumed = service.admin.patch("/api/jobs/nightly", json={"paused": False}).json()
    assert resumed["paused"] is False
    assert resumed["next_fire_at"] is not None

    reset = service.admin.delete("/api/jobs/nightly/overrides").json()
    assert reset["overrides"] == {}
    assert reset["schedule"]["text"] == "daily 03:00"


def test_a_bad_patch_changes_nothing_and_names_the_field(service: Service) -> None:
    before = service.admin.get("/api/jobs/echo").json()
    response = service.admin.patch("/api/jobs/echo", json={"overlap": "queue", "max_concurrent": 0})
    assert response.status_code == 422
    body = response.json()
    assert (body["field"], body["value"]) == ("max_concurrent", "0"), body
    assert service.admin.get("/api/jobs/echo").json()["overrides"] == before["overrides"]

    bad = service.admin.patch("/api/jobs/echo", json={"schedule": "cron 61 * * * *"})
    assert bad.status_code == 422
    assert bad.json()["value"] == "61", bad.json()


def test_run_now_with_arguments_and_read_its_log(service: Service) -> None:
    created = service.admin.post("/api/jobs/echo/runs", json={"args": {"text": "hello"}})
    assert created.status_code == 201, created.text
    run = finished(service, created.json()["id"])
    assert run["status"] == "succeeded"
    assert run["args"] == {"text": "hello"}
    assert "echo hello" in run["log"]
    assert run["reason"] == "manual"

    wrong = service.admin.post("/api/jobs/echo/runs", json={"args": {"nope": 1}})
    assert wrong.status_code == 422
    assert wrong.json()["field"] == "args"
    empty = service.admin.post("/api/jobs/echo/runs")
    assert empty.status_code == 201


def test_run_later_is_queued_until_then_and_can_be_cancelled(service: Service) -> None:
    at = datetime.now(UTC) + timedelta(hours=1)
    created = service.admin.post("/api/jobs/echo/runs", json={"at": at.isoformat()}).json()
    run = service.admin.get(f"/api/runs/{created['id']}").json()
    assert run["status"] == "queued"
    assert datetime.fromisoformat(run["not_before"]) == at.replace(microsecond=at.microsecond)
    cancelled = service.admin.post(f"/api/runs/{created['id']}/cancel").json()
    assert cancelled["status"] == "cancelled"

    past = service.admin.post("/api/jobs/echo/runs", json={"at": "2001-01-01T00:00:00+00:00"})
    assert past.status_code == 422
    assert past.json()["field"] == "at"


def test_a_job_added_at_run_time_runs_and_is_deleted(service: Service) -> None:
    body = {"name": "adder", "function": "tests.service.service_jobs:add", "args": {"a": 5}}
    added = service.admin.post("/api/jobs", json=body)
    assert added.status_code == 201, added.text
    assert added.json()["kind"] == "runtime"
    assert added.json()["target"] == "tests.service.service_jobs:add"
    assert service.admin.post("/api/jobs", json=body).status_code == 409

    run_id = service.admin.post("/api/jobs/adder/runs", json={"args": {"b": 3}}).json()["id"]
    run = finished(service, run_id)
    assert run["status"] == "succeeded"
    assert "adding 5 and 3" in run["log"]

    assert service.admin.delete("/api/jobs/adder").status_code == 204
    assert service.admin.get("/api/jobs/adder").status_code == 404
    assert service.admin.get(f"/api/runs/{run_id}").status_code == 404

    missing = service.admin.post("/api/jobs", json={"name": "x", "function": "nowhere:fn"})
    assert missing.status_code == 422
    assert missing.json()["field"] == "function"


def test_a_code_job_in_live_code_cannot_be_deleted(service: Service) -> None:
    response = service.admin.delete("/api/jobs/echo")
    assert response.status_code == 409
    assert "code of a running node" in response.json()["message"]
    assert service.admin.delete("/api/jobs/rota-prune").status_code == 409


def test_a_schedule_text_is_previewed_in_the_rotas_zone(service: Service) -> None:
    response = service.viewer.get("/api/preview", params={"schedule": "daily 02:30", "n": 3})
    assert response.status_code == 200, response.text
    preview = response.json()
    assert preview["tz"] == "Europe/Berlin"
    assert len(preview["fire_times"]) == 3
    assert preview["schedule"]["description"]
    for text in preview["fire_times"]:
        assert datetime.fromisoformat(text).astimezone(_berlin()).strftime("%M") == "30"

    bad = service.viewer.get("/api/preview", params={"schedule": "cron 61 * * * *"})
    assert bad.status_code == 422
    assert (bad.json()["field"], bad.json()["value"]) == ("minute field", "61"), bad.json()
    assert bad.json()["reason"]


def test_the_preview_notes_a_dst_change(service: Service) -> None:
    response = service.viewer.get("/api/preview", params={"schedule": "daily 02:30", "n": 366})
    assert response.status_code == 200
    assert response.json()["notes"], "a year of daily runs in Berlin crosses a DST change"


def _berlin() -> Any:
    from zoneinfo import ZoneInfo

    return ZoneInfo("Europe/Berlin")
