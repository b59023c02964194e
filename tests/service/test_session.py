"""Browser login (docs/decisions/0010): ``POST /api/session`` trades a token for an HttpOnly,
SameSite=Strict cookie and a CSRF token; the cookie authenticates like a bearer token, but its
writes need ``X-CSRF-Token``; failed logins are limited per address; sessions survive restarts
and are shared by processes with the same tokens, and end when a token changes."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx2
import pytest
from fastapi import FastAPI

from rota import Rota, asgi
from rota.service.login_limit import MAX_FAILURES, WINDOW
from rota.service.session import COOKIE, LIFETIME
from rota.testing import FakeClock
from tests.service.conftest import ADMIN, VIEWER, Service
from tests.service.server import Server, serving

NOWHERE = "/api/jobs/no-such-job/runs"  # an admin write that gets past auth to a 404


def plain(server: Server, prefix: str = "") -> httpx2.Client:
    """A client with no token and no cookie jar of its own use (cookies are sent by hand)."""
    return httpx2.Client(base_url=server.url + prefix, timeout=15.0)


def set_cookie(response: httpx2.Response) -> dict[str, str]:
    """The attributes of the session's Set-Cookie header (names lower-cased, flags as '')."""
    headers = [h for h in response.headers.get_list("set-cookie") if h.startswith(COOKIE + "=")]
    assert len(headers) == 1, response.headers
    first, *attributes = (part.strip() for part in headers[0].split(";"))
    found = {"value": first.partition("=")[2]}
    for attribute in attributes:
        name, _, value = attribute.partition("=")
        found[name.lower()] = value
    return found


def log_in(http: httpx2.Client, token: str, path: str = "/api/session") -> tuple[str, str]:
    """The cookie value and CSRF token of a new session."""
    response = http.post(path, json={"token": token})
    assert response.status_code == 200, response.text
    return set_cookie(response)["value"], response.json()["csrf_token"]


def jar(cookie: str) -> dict[str, str]:
    return {"Cookie": f"{COOKIE}={cookie}"}


@pytest.fixture
def http(service: Service) -> Iterator[httpx2.Client]:
    with plain(service.server) as client:
        yield client


def test_a_login_gives_a_strict_http_only_cookie_and_a_csrf_token(
    http: httpx2.Client,
) -> None:
    response = http.post("/api/session", json={"token": ADMIN})
    assert response.status_code == 200
    body = response.json()
    assert body["role"] == "admin"
    assert len(body["csrf_token"]) >= 32
    cookie = set_cookie(response)
    assert "httponly" in cookie
    assert cookie["samesite"].lower() == "strict"
    assert cookie["path"] == "/"
    assert cookie["max-age"] == str(int(LIFETIME.total_seconds()))
    assert "expires" in cookie
    assert "secure" not in cookie  # plain http here: see the proxy test for https
    assert response.headers["cache-control"] == "no-store"
    assert ADMIN not in response.text
    assert ADMIN not in str(response.headers)

    again = http.get("/api/session", headers=jar(cookie["value"]))
    assert again.status_code == 200
    assert again.json() == body


def test_the_viewer_logs_in_as_viewer(http: httpx2.Client) -> None:
    response = http.post("/api/session", json={"token": VIEWER})
    assert response.status_code == 200
    assert response.json()["role"] == "viewer"


def test_a_wrong_token_gets_401_and_no_cookie(http: httpx2.Client) -> None:
    response = http.post("/api/session", json={"token": "not-the-token-0123456789"})
    assert response.status_code == 401
    assert response.json()["error"] == "Unauthorized"
    assert "set-cookie" not in response.headers


def test_a_login_body_that_does_not_fit_is_refused_without_echoing_it(
    http: httpx2.Client,
) -> None:
    for body in ({"token": "x" * 2000}, {"tokn": ADMIN}, {"token": ADMIN, "extra": ADMIN}):
        response = http.post("/api/session", json=body)
        assert response.status_code == 422, body
        assert response.json()["value"] is None
        assert ADMIN not in response.text
        assert "x" * 100 not in response.text
    assert http.post("/api/session", content=b"{not json").status_code == 422


def test_a_login_must_be_json_so_a_cross_site_form_cannot_log_anyone_in(
    http: httpx2.Client,
) -> None:
    # An HTML form can send text/plain or form-encoded bodies cross-site without asking; JSON
    # needs a CORS preflight, which this service never grants.
    body = ('{"token": "' + ADMIN + '"}').encode()
    for kind in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data"):
        response = http.post("/api/session", content=body, headers={"Content-Type": kind})
        assert response.status_code == 422, kind
        assert "set-cookie" not in response.headers
    assert (
        http.options(
            "/api/session",
            headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
        ).headers.get("access-control-allow-origin")
        is None
    )


def test_who_am_i_needs_a_valid_cookie(http: httpx2.Client, service: Service) -> None:
    assert http.get("/api/session").status_code == 401
    assert service.admin.get("/api/session").status_code == 401  # a bearer has no session
    cookie, csrf = log_in(http, VIEWER)
    assert http.get("/api/session", headers=jar(cookie)).json() == {
        "role": "viewer",
        "csrf_token": csrf,
    }
    payload, _, signature = cookie.rpartition(".")
    forged = payload.replace(".viewer.", ".admin.") + "." + signature
    for bad in (forged, cookie[:-2], "1.admin.99999999999.AAAA.AAAA", "", "x" * 5000):
        assert http.get("/api/session", headers=jar(bad)).status_code == 401, bad
        assert http.get("/api/jobs", headers=jar(bad)).status_code == 401, bad


def test_the_cookie_reads_everything_a_token_reads(http: httpx2.Client) -> None:
    cookie, _ = log_in(http, VIEWER)
    for path in ("/api/jobs", "/api/runs", "/api/nodes", "/metrics", "/readyz"):
        assert http.get(path, headers=jar(cookie)).status_code == 200, path
    with http.stream("GET", "/api/events", headers=jar(cookie)) as stream:
        assert stream.status_code == 200
        assert stream.headers["content-type"].startswith("text/event-stream")


def test_a_cookie_write_needs_the_csrf_token_and_a_bearer_write_does_not(
    http: httpx2.Client, service: Service
) -> None:
    cookie, csrf = log_in(http, ADMIN)
    missing = http.post(NOWHERE, headers=jar(cookie))
    assert missing.status_code == 403
    assert "X-CSRF-Token" in missing.json()["message"]
    # One character changed: the first, all of whose bits count (the last of 43 base64
    # characters carries 2 padding bits, and was "A" already in 1 token of 16).
    changed = ("B" if csrf.startswith("A") else "A") + csrf[1:]
    wrong = http.post(NOWHERE, headers={**jar(cookie), "X-CSRF-Token": changed})
    assert wrong.status_code == 403
    _, other_csrf = log_in(http, ADMIN)  # another session's token is not this one's
    assert http.post(NOWHERE, headers={**jar(cookie), "X-CSRF-Token": other_csrf}).status_code == (
        403
    )
    right = http.post(NOWHERE, headers={**jar(cookie), "X-CSRF-Token": csrf})
    assert right.status_code == 404  # past auth: the job does not exist
    assert service.admin.post(NOWHERE).status_code == 404  # bearer: no CSRF token needed
    assert http.get("/api/jobs", headers=jar(cookie)).status_code == 200  # reads need none


def test_the_viewer_cannot_write_with_a_cookie_either(http: httpx2.Client) -> None:
    cookie, csrf = log_in(http, VIEWER)
    response = http.post(NOWHERE, headers={**jar(cookie), "X-CSRF-Token": csrf})
    assert response.status_code == 403
    assert "may only read" in response.json()["message"]


def test_a_bearer_token_that_is_wrong_is_not_rescued_by_a_cookie(http: httpx2.Client) -> None:
    cookie, _ = log_in(http, ADMIN)
    headers = {**jar(cookie), "Authorization": "Bearer " + "z" * 32}
    assert http.get("/api/jobs", headers=headers).status_code == 401


def test_logging_out_clears_the_cookie(service: Service) -> None:
    with plain(service.server) as browser:  # this one keeps its cookies, as a browser does
        response = browser.post("/api/session", json={"token": ADMIN})
        assert response.status_code == 200
        assert browser.get("/api/jobs").status_code == 200
        out = browser.delete("/api/session")
        assert out.status_code == 204
        cleared = set_cookie(out)
        assert cleared["value"] in ("", '""')
        assert cleared["max-age"] == "0"
        assert cleared["path"] == "/"
        assert "httponly" in cleared
        assert browser.get("/api/session").status_code == 401
        assert browser.get("/api/jobs").status_code == 401
        assert browser.delete("/api/session").status_code == 204  # logged out already: fine


def test_the_session_routes_are_in_the_spec(service: Service) -> None:
    spec = service.anonymous.get("/api/openapi.json").json()
    paths = spec["paths"]["/api/session"]
    assert set(paths) == {"post", "get", "delete"}
    login = paths["post"]
    assert login["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "/SessionIn"
    )
    assert {"200", "401", "422", "429"} <= set(login["responses"])
    schemes = spec["components"]["securitySchemes"]
    assert schemes["APIKeyCookie"] == {
        "type": "apiKey",
        "in": "cookie",
        "name": COOKIE,
        "description": schemes["APIKeyCookie"]["description"],
    }
    assert "X-CSRF-Token" in schemes["APIKeyCookie"]["description"]
    jobs = spec["paths"]["/api/jobs"]["get"]["security"]
    assert {"APIKeyCookie": []} in jobs
    assert {"HTTPBearer": []} in jobs


# Apps of their own: a fake clock, other tokens, other mounts.


def small_rota(tmp_path: Path, clock: FakeClock | None = None) -> Rota:
    return Rota(f"sqlite:///{tmp_path}/app.db", timezone="UTC", clock=clock)


def test_too_many_failed_logins_from_one_address_get_429(tmp_path: Path) -> None:
    clock = FakeClock()
    rota = small_rota(tmp_path, clock)
    app = asgi(rota, admin_token=ADMIN, viewer_token=VIEWER, token_file=tmp_path / "t")
    with serving(app) as server, plain(server) as http:
        for _ in range(MAX_FAILURES - 1):
            assert http.post("/api/session", json={"token": "w" * 20}).status_code == 401
        # A known viewer token does not reset the count (it would let one guess the admin's).
        assert http.post("/api/session", json={"token": VIEWER}).status_code == 200
        clock.advance(10)
        assert http.post("/api/session", json={"token": "w" * 20}).status_code == 401
        refused = http.post("/api/session", json={"token": ADMIN})  # even the right one
        assert refused.status_code == 429
        assert refused.headers["retry-after"] == str(int(WINDOW.total_seconds()) - 10)
        assert refused.json()["error"] == "TooManyRequests"
        assert "set-cookie" not in refused.headers
        # Bearer requests are not logins: they go on.
        assert http.get("/api/jobs", headers={"Authorization": f"Bearer {ADMIN}"}).status_code == (
            200
        )
        clock.advance(WINDOW - timedelta(seconds=11))
        assert http.post("/api/session", json={"token": ADMIN}).status_code == 429
        clock.advance(1)  # the first failure is now WINDOW old
        assert http.post("/api/session", json={"token": ADMIN}).status_code == 200
    rota.close()


def test_a_session_expires_after_its_lifetime(tmp_path: Path) -> None:
    clock = FakeClock()
    rota = small_rota(tmp_path, clock)
    app = asgi(rota, admin_token=ADMIN, token_file=tmp_path / "t")
    with serving(app) as server, plain(server) as http:
        cookie, _ = log_in(http, ADMIN)
        clock.advance(LIFETIME - timedelta(seconds=1))
        assert http.get("/api/jobs", headers=jar(cookie)).status_code == 200
        clock.advance(1)
        assert http.get("/api/jobs", headers=jar(cookie)).status_code == 401
        assert http.get("/api/session", headers=jar(cookie)).status_code == 401
    rota.close()


def test_the_cookie_path_is_the_mount_path(tmp_path: Path) -> None:
    rota = small_rota(tmp_path)
    outer = FastAPI()
    outer.mount("/jobs-admin", asgi(rota, admin_token=ADMIN, token_file=tmp_path / "t"))
    with serving(outer) as server, plain(server) as http:
        response = http.post("/jobs-admin/api/session", json={"token": ADMIN})
        assert response.status_code == 200
        cookie = set_cookie(response)
        assert cookie["path"] == "/jobs-admin"
        csrf = response.json()["csrf_token"]
        assert http.get("/jobs-admin/api/jobs", headers=jar(cookie["value"])).status_code == 200
        created = http.post(
            "/jobs-admin/api/jobs/none/runs", headers={**jar(cookie["value"]), "X-CSRF-Token": csrf}
        )
        assert created.status_code == 404
        assert set_cookie(http.delete("/jobs-admin/api/session"))["path"] == "/jobs-admin"
    rota.close()


def test_the_cookie_path_follows_uvicorns_root_path(tmp_path: Path) -> None:
    rota = small_rota(tmp_path)
    app = asgi(rota, admin_token=ADMIN, token_file=tmp_path / "t")
    # As `uvicorn --root-path /rota` behind a proxy that strips /rota.
    with serving(app, root_path="/rota") as server, plain(server) as http:
        assert set_cookie(http.post("/api/session", json={"token": ADMIN}))["path"] == "/rota"
    rota.close()


def test_the_cookie_is_secure_behind_a_trusted_https_proxy_only(tmp_path: Path) -> None:
    rota = small_rota(tmp_path)
    app = asgi(rota, admin_token=ADMIN, token_file=tmp_path / "t")
    https = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.7"}
    with (
        serving(app, proxy_headers=True, forwarded_allow_ips="127.0.0.1") as server,
        plain(server) as http,
    ):
        response = http.post("/api/session", json={"token": ADMIN}, headers=https)
        assert "secure" in set_cookie(response)
        cleared = http.delete("/api/session", headers=https)
        assert "secure" in set_cookie(cleared)
    with (
        serving(app, proxy_headers=True, forwarded_allow_ips="10.9.9.9") as server,
        plain(server) as http,
    ):
        response = http.post("/api/session", json={"token": ADMIN}, headers=https)
        assert "secure" not in set_cookie(response)  # an untrusted client's header is ignored
    rota.close()


def test_the_limit_counts_the_address_a_trusted_proxy_names(tmp_path: Path) -> None:
    rota = small_rota(tmp_path)
    app = asgi(rota, admin_token=ADMIN, token_file=tmp_path / "t")
    with (
        serving(app, proxy_headers=True, forwarded_allow_ips="127.0.0.1") as server,
        plain(server) as http,
    ):
        attacker = {"X-Forwarded-For": "203.0.113.7"}
        for _ in range(MAX_FAILURES):
            http.post("/api/session", json={"token": "w" * 20}, headers=attacker)
        assert http.post("/api/session", json={"token": ADMIN}, headers=attacker).status_code == (
            429
        )
        someone = {"X-Forwarded-For": "198.51.100.1"}
        assert http.post("/api/session", json={"token": ADMIN}, headers=someone).status_code == (
            200
        )
    rota.close()


def test_sessions_survive_a_restart_and_are_shared_by_processes(tmp_path: Path) -> None:
    rota = small_rota(tmp_path)

    def app(admin: str = ADMIN, viewer: str = VIEWER) -> FastAPI:
        return asgi(rota, admin_token=admin, viewer_token=viewer, token_file=tmp_path / "t")

    with serving(app()) as first, plain(first) as http:
        admin, csrf = log_in(http, ADMIN)
        viewer, _ = log_in(http, VIEWER)
    # A restart, and two processes at once: the same tokens, the same sessions.
    with serving(app()) as second, serving(app()) as third:
        for server in (second, third):
            with plain(server) as http:
                who = http.get("/api/session", headers=jar(admin))
                assert who.json() == {"role": "admin", "csrf_token": csrf}
                headers = {**jar(admin), "X-CSRF-Token": csrf}
                assert http.post("/api/jobs/none/runs", headers=headers).status_code == 404
                assert http.get("/api/jobs", headers=jar(viewer)).status_code == 200
    assert not list(tmp_path.glob("*session-secret*"))  # nothing written with tokens configured
    # A new viewer token ends every session; so does a new admin token.
    with serving(app(viewer="another-viewer-token-012345")) as server, plain(server) as http:
        assert http.get("/api/jobs", headers=jar(viewer)).status_code == 401
        assert http.get("/api/jobs", headers=jar(admin)).status_code == 401
    with serving(app(admin="another-admin-token-0123456")) as server, plain(server) as http:
        assert http.get("/api/session", headers=jar(admin)).status_code == 401
    rota.close()


def test_with_a_generated_admin_token_the_key_comes_from_a_secret_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ROTA_ADMIN_TOKEN", raising=False)
    monkeypatch.delenv("ROTA_VIEWER_TOKEN", raising=False)
    rota = small_rota(tmp_path)
    token_file = tmp_path / "app.db.admin-token.sha256"
    token_file.write_text(hashlib.sha256(ADMIN.encode()).hexdigest() + "\n")  # as generated

    with serving(asgi(rota)) as server, plain(server) as http:
        cookie, csrf = log_in(http, ADMIN)
    secret = tmp_path / "app.db.session-secret"
    assert secret.stat().st_mode & 0o077 == 0
    assert len(bytes.fromhex(secret.read_text().strip())) == 32
    with serving(asgi(rota)) as server, plain(server) as http:  # restarted: same secret
        assert http.get("/api/session", headers=jar(cookie)).json()["csrf_token"] == csrf
    secret.unlink()  # a new secret: every session ends
    with serving(asgi(rota)) as server, plain(server) as http:
        assert http.get("/api/session", headers=jar(cookie)).status_code == 401
        cookie, _ = log_in(http, ADMIN)
    token_file.write_text(hashlib.sha256(b"a-new-admin-token-0123456").hexdigest() + "\n")
    with serving(asgi(rota)) as server, plain(server) as http:  # a new admin token
        assert http.get("/api/session", headers=jar(cookie)).status_code == 401
    rota.close()


def test_a_broken_secret_file_is_refused_by_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rota import SettingError

    monkeypatch.delenv("ROTA_ADMIN_TOKEN", raising=False)
    rota = small_rota(tmp_path)
    token_file = tmp_path / "app.db.admin-token.sha256"
    token_file.write_text(hashlib.sha256(ADMIN.encode()).hexdigest() + "\n")
    (tmp_path / "app.db.session-secret").write_text("not hex\n")
    with pytest.raises(SettingError, match="session secret"):
        asgi(rota, token_file=token_file)
    rota.close()


def test_no_secret_is_logged(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    rota = small_rota(tmp_path)
    app = asgi(rota, admin_token=ADMIN, viewer_token=VIEWER, token_file=tmp_path / "t")
    with (
        caplog.at_level(logging.DEBUG),
        # log_config=None: uvicorn's loggers propagate, so its access log is captured too.
        serving(app, log_level="debug", access_log=True, log_config=None) as server,
        plain(server) as http,
    ):
        cookie, csrf = log_in(http, ADMIN)
        http.post("/api/session", json={"token": "wrong-token-0123456789"})
        http.post("/api/session", json={"tokn": VIEWER})
        http.post(NOWHERE, headers={**jar(cookie), "X-CSRF-Token": csrf})
        http.post(NOWHERE, headers=jar(cookie))
        http.delete("/api/session", headers=jar(cookie))
    server_side = ("rota", "uvicorn", "fastapi", "starlette")  # not the client's own debug log
    text = "\n".join(
        record.getMessage() for record in caplog.records if record.name.startswith(server_side)
    )
    assert "POST /api/session" in text  # the access log was on and captured
    for secret in (ADMIN, VIEWER, cookie, csrf, "wrong-token-0123456789"):
        assert secret not in text
    rota.close()
