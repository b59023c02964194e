"""Closed by default: every operation in the OpenAPI spec that changes something is refused
without a token (401) and with the viewer token (403), by bearer token or session cookie, and
with an admin cookie but no CSRF token (403); reads need a token or cookie too; only /healthz
(and logging in) is open. With no admin token configured one is generated, logged once, and
only its hash kept."""

from __future__ import annotations

import hashlib
import logging
import re
from pathlib import Path
from typing import Any

import pytest

from rota import Rota, asgi
from rota.service.session import COOKIE
from tests.service.conftest import ADMIN, VIEWER, Service
from tests.service.server import client, serving

READS = {"get", "head", "options"}
SAMPLES = {"name": "echo", "run_id": "1", "setting": "overlap"}
# What an admin may change in the shared server without disturbing other tests: nothing there.
ABSENT = {"name": "no-such-job", "run_id": "999999999", "setting": "overlap"}
SESSION = "/api/session"  # logging in and out: its own rules (test_session.py)


def operations(spec: dict[str, Any], samples: dict[str, str] = SAMPLES) -> list[tuple[str, str]]:
    found = []
    for path, item in spec["paths"].items():
        for method in item:
            if method in {"get", "put", "post", "patch", "delete", "head", "options"}:
                concrete = re.sub(r"\{(\w+)\}", lambda m: samples[m.group(1)], path)
                found.append((method.upper(), concrete))
    return found


def session(service: Service, token: str) -> tuple[dict[str, str], str]:
    """A new session's cookie header and CSRF token."""
    with client(service.server, None) as http:
        response = http.post(SESSION, json={"token": token})
        assert response.status_code == 200, response.text
        cookie = response.cookies[COOKIE]
    return {"Cookie": f"{COOKIE}={cookie}"}, response.json()["csrf_token"]


def test_every_mutating_operation_needs_the_admin_token(service: Service) -> None:
    spec = service.admin.get("/api/openapi.json").json()
    mutating = [(m, p) for m, p in operations(spec) if m.lower() not in READS and p != SESSION]
    assert len(mutating) >= 8, mutating
    for method, path in mutating:
        anonymous = service.anonymous.request(method, path, json={})
        assert anonymous.status_code == 401, (method, path, anonymous.text)
        assert anonymous.headers["www-authenticate"] == "Bearer"
        viewer = service.viewer.request(method, path, json={})
        assert viewer.status_code == 403, (method, path, viewer.text)
        wrong = service.anonymous.request(
            method, path, json={}, headers={"Authorization": "Bearer " + "x" * 32}
        )
        assert wrong.status_code == 401, (method, path)


def test_every_mutating_operation_needs_an_admin_cookie_and_its_csrf_token(
    service: Service,
) -> None:
    spec = service.admin.get("/api/openapi.json").json()
    mutating = [
        (m, p) for m, p in operations(spec, ABSENT) if m.lower() not in READS and p != SESSION
    ]
    assert len(mutating) >= 8, mutating
    viewer, viewer_csrf = session(service, VIEWER)
    admin, admin_csrf = session(service, ADMIN)
    with client(service.server, None) as http:
        for method, path in mutating:
            refused = http.request(
                method, path, json={}, headers={**viewer, "X-CSRF-Token": viewer_csrf}
            )
            assert refused.status_code == 403, (method, path, refused.text)
            assert "may only read" in refused.json()["message"]
            no_csrf = http.request(method, path, json={}, headers=admin)
            assert no_csrf.status_code == 403, (method, path, no_csrf.text)
            assert "X-CSRF-Token" in no_csrf.json()["message"]
            allowed = http.request(
                method, path, json={}, headers={**admin, "X-CSRF-Token": admin_csrf}
            )
            assert allowed.status_code not in (401, 403), (method, path, allowed.text)


def test_reads_need_a_token_but_healthz(service: Service) -> None:
    spec = service.viewer.get("/api/openapi.json").json()
    reads = [(m, p) for m, p in operations(spec) if m.lower() in READS]
    for method, path in reads:
        if path == "/api/events":
            continue  # a stream: checked below without reading it
        response = service.anonymous.request(method, path, params={"schedule": "daily 02:00"})
        expected = 200 if path == "/healthz" else 401
        assert response.status_code == expected, (method, path, response.text)
    assert service.anonymous.get("/api/events").status_code == 401
    assert service.anonymous.get("/api/openapi.json").status_code == 200  # the spec is public
    assert service.viewer.get("/api/jobs").status_code == 200


def test_every_read_takes_a_viewer_cookie(service: Service) -> None:
    spec = service.viewer.get("/api/openapi.json").json()
    reads = [(m, p) for m, p in operations(spec) if m.lower() in READS and p != "/api/events"]
    assert len(reads) >= 8, reads
    cookie, _ = session(service, VIEWER)
    with client(service.server, None) as http:
        for method, path in reads:
            response = http.request(
                method, path, params={"schedule": "daily 02:00"}, headers=cookie
            )
            assert response.status_code not in (401, 403), (method, path, response.text)


def test_docs_pages_that_load_scripts_from_a_cdn_are_off(service: Service) -> None:
    for path in ("/docs", "/redoc", "/api/docs", "/api/redoc"):
        assert service.admin.get(path).status_code == 404, path


def test_no_token_appears_in_responses(service: Service) -> None:
    texts = [
        service.admin.get(path).text
        for path in ("/api/jobs", "/api/nodes", "/api/runs", "/api/openapi.json", "/metrics")
    ]
    for text in texts:
        assert ADMIN not in text
        assert VIEWER not in text


def test_a_generated_admin_token_is_logged_once_and_only_its_hash_kept(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ROTA_ADMIN_TOKEN", raising=False)
    monkeypatch.delenv("ROTA_VIEWER_TOKEN", raising=False)
    rota = Rota(f"sqlite:///{tmp_path}/app.db", timezone="UTC")
    with caplog.at_level(logging.WARNING, logger="rota.service"):
        first = asgi(rota)
    lines = [r.getMessage() for r in caplog.records if "generated" in r.getMessage()]
    assert len(lines) == 1
    token = lines[0].split(": ")[-1].split()[0]
    kept = tmp_path / "app.db.admin-token.sha256"
    assert kept.read_text().strip() == hashlib.sha256(token.encode()).hexdigest()
    assert token not in kept.read_text()
    assert kept.stat().st_mode & 0o077 == 0

    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="rota.service"):
        second = asgi(rota)
    assert not [r for r in caplog.records if "generated" in r.getMessage()]
    for app in (first, second):
        with serving(app) as server, client(server, token) as http:
            assert http.get("/api/jobs").status_code == 200
            assert http.post("/api/jobs/none/runs").status_code == 404  # admin: past auth
        with serving(app) as server, client(server, "y" * 40) as http:
            assert http.get("/api/jobs").status_code == 401
    rota.close()


def test_tokens_come_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ROTA_ADMIN_TOKEN", "env-admin-token-0123456789")
    monkeypatch.setenv("ROTA_VIEWER_TOKEN", "env-viewer-token-0123456789")
    rota = Rota(f"sqlite:///{tmp_path}/app.db", timezone="UTC")
    app = asgi(rota)
    assert not (tmp_path / "app.db.admin-token.sha256").exists()
    with serving(app) as server:
        with client(server, "env-viewer-token-0123456789") as http:
            assert http.get("/api/jobs").status_code == 200
            assert http.post("/api/jobs/x/runs").status_code == 403
        with client(server, "env-admin-token-0123456789") as http:
            assert http.post("/api/jobs/x/runs").status_code == 404
    rota.close()


def test_a_short_token_is_refused_without_showing_it(tmp_path: Path) -> None:
    rota = Rota(f"sqlite:///{tmp_path}/app.db", timezone="UTC")
    from rota import SettingError

    with pytest.raises(SettingError) as raised:
        asgi(rota, admin_token="short-secret")
    assert "short-secret" not in str(raised.value)
    assert raised.value.value == "12 characters"
