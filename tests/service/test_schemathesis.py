"""Schemathesis over the service's own OpenAPI spec, against a real server with its engine: for
every operation, generated requests (valid and not) never make a server error, and every
response fits the spec, whether they authenticate with the admin's bearer token or with an
admin session's cookie and CSRF token. The examples are bounded to keep this to some seconds."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from rota import asgi
from rota.service.session import COOKIE
from tests.service.conftest import ADMIN, HEARTBEAT, make_rota
from tests.service.server import Server, client, serving

EXAMPLES = {"bearer": 40, "cookie": 10}
"""Per operation. Past the credentials a request is handled alike however it authenticated: the
bearer's run fuzzes each operation, the cookie's shows that the cookie and its CSRF token hold for
every one of them (and still never make a server error)."""


@pytest.fixture(scope="module")
def fuzzed_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server of its own (a SQLite file), so that what the fuzzing changes stays there."""
    directory = Path(tmp_path_factory.mktemp("fuzz"))
    rota = make_rota(f"sqlite:///{directory}/rota.db")
    app = asgi(
        rota, start_engine=True, admin_token=ADMIN, token_file=directory / "t", heartbeat=HEARTBEAT
    )
    with serving(app) as server:
        yield server
    rota.close()


@pytest.fixture(scope="module")
def credentials(fuzzed_server: Server) -> dict[str, dict[str, str]]:
    """The headers of each way to authenticate as admin. The session is made before any
    fuzzing: the fuzzed logins soon have this address refused by the login limit."""
    with client(fuzzed_server, None) as http:
        response = http.post("/api/session", json={"token": ADMIN})
        assert response.status_code == 200, response.text
    cookie = {
        "Cookie": f"{COOKIE}={response.cookies[COOKIE]}",
        "X-CSRF-Token": response.json()["csrf_token"],
    }
    return {"bearer": {"Authorization": f"Bearer {ADMIN}"}, "cookie": cookie}


@pytest.fixture(scope="module")
def api_schema(fuzzed_server: Server) -> schemathesis.BaseSchema:
    # The event stream never ends by itself: it is tested in test_events.py.
    return schemathesis.openapi.from_url(f"{fuzzed_server.url}/api/openapi.json").exclude(
        path="/api/events"
    )


@pytest.mark.parametrize("auth", ["bearer", "cookie"])
def test_no_request_makes_a_server_error(
    api_schema: schemathesis.BaseSchema, credentials: dict[str, dict[str, str]], auth: str
) -> None:
    # (schemathesis' pytest plugin does not work with this pytest: each operation is run
    # through hypothesis here instead.)
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 14
    statuses: set[int] = set()
    for operation in operations:

        @given(
            case=st.one_of(
                operation.as_strategy(GenerationMode.POSITIVE),
                operation.as_strategy(GenerationMode.NEGATIVE),
            )
        )
        @settings(
            max_examples=EXAMPLES[auth],
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def check(case: schemathesis.Case) -> None:
            response = case.call_and_validate(
                headers=credentials[auth],
                checks=[
                    not_a_server_error,
                    status_code_conformance,
                    content_type_conformance,
                    response_schema_conformance,
                ],
                timeout=10,
            )
            statuses.add(response.status_code)
            # The credentials hold: only a login with a generated token, or a generated (wrong)
            # bearer token sent beside the cookie, is refused.
            sent = response.request.headers.get("Authorization")
            ours = sent is None or sent == credentials[auth].get("Authorization")
            if case.operation.path != "/api/session" and ours:
                assert response.status_code not in (401, 403), (case.operation.path, response.text)

        check()
    assert 200 in statuses
