"""Bad input is answered with JSON naming the field and value (422), unknown names and ids with
404, conflicts with 409: never a 500."""

from __future__ import annotations

import pytest

from tests.service.conftest import Service

ADD = "tests.service.service_jobs:add"


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "field"),
    [
        ("GET", "/api/jobs/no-such-job", None, 404, "job"),
        ("PATCH", "/api/jobs/no-such-job", {"overlap": "queue"}, 404, "job"),
        ("POST", "/api/jobs/no-such-job/runs", {}, 404, "job"),
        ("GET", "/api/runs/999999999", None, 404, "run"),
        ("POST", "/api/runs/999999999/cancel", None, 404, "run"),
        ("GET", "/api/runs/99999999999999999999999", None, 422, "run_id"),
        ("GET", "/api/runs/0", None, 422, "run_id"),
        ("GET", "/api/runs/abc", None, 422, "run_id"),
        ("GET", "/api/runs?status=sometimes", None, 422, "status"),
        ("GET", "/api/runs?since=yesterday", None, 422, "since"),
        ("GET", "/api/runs?limit=0", None, 422, "limit"),
        ("GET", "/api/runs?job=nope", None, 404, "job"),
        ("PATCH", "/api/jobs/echo", {"overlap": "sometimes"}, 422, "overlap"),
        ("PATCH", "/api/jobs/echo", {"grace": "forever"}, 422, "grace"),
        ("PATCH", "/api/jobs/echo", {"max_concurrent": "many"}, 422, "max_concurrent"),
        ("PATCH", "/api/jobs/echo", {"colour": "red"}, 422, "colour"),
        ("PATCH", "/api/jobs/echo", {"description": "not overridable"}, 422, "description"),
        ("PATCH", "/api/jobs/echo", {"note": "without pausing"}, 422, "note"),
        ("PATCH", "/api/jobs/echo", [1, 2], 422, "body"),
        ("DELETE", "/api/jobs/echo/overrides/colour", None, 422, "setting"),
        ("POST", "/api/jobs/echo/runs", {"args": "text"}, 422, "args"),
        (
            "POST",
            "/api/jobs",
            {"name": "bad name!", "function": "tests.service.service_jobs:add"},
            422,
            "job name",
        ),
        ("GET", "/api/preview?schedule=every%200s", None, 422, None),
        ("GET", "/api/preview?schedule=daily%2002:00&n=0", None, 422, "n"),
        ("GET", "/api/events?after=-1", None, 422, "after"),
    ],
)
def test_bad_requests_name_the_field(
    service: Service, method: str, path: str, body: object, status: int, field: str | None
) -> None:
    response = service.admin.request(method, path, json=body)
    assert response.status_code == status, response.text
    answer = response.json()
    assert answer["error"]
    assert answer["message"]
    if field is not None:
        assert answer["field"] == field, answer


def test_malformed_json_is_a_422(service: Service) -> None:
    response = service.admin.patch(
        "/api/jobs/echo", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    assert response.json()["field"] == "body"


def test_a_bad_last_event_id_is_a_422(service: Service) -> None:
    response = service.viewer.get("/api/events", headers={"Last-Event-ID": "x1"})
    assert response.status_code == 422
    assert response.json()["field"] == "Last-Event-ID"


@pytest.mark.parametrize(
    ("who", "method", "path", "status", "error"),
    [
        ("anonymous", "GET", "/api/jobs", 401, "Unauthorized"),
        ("viewer", "POST", "/api/jobs/no-such-job/runs", 403, "Forbidden"),
        ("admin", "GET", "/api/no-such-route", 404, "NotFound"),
        ("admin", "DELETE", "/api/runs", 405, "MethodNotAllowed"),
    ],
)
def test_http_errors_are_named_by_their_status_and_say_it_once(
    service: Service, who: str, method: str, path: str, status: int, error: str
) -> None:
    response = getattr(service, who).request(method, path)
    assert response.status_code == status, response.text
    answer = response.json()
    assert answer["error"] == error, answer
    assert answer["message"]
    assert answer["reason"] is None, answer  # the message says it; not twice
    assert answer["field"] is None
