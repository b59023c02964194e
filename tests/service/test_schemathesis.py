"""Schemathesis over the service's own OpenAPI spec, against a real server with its engine: for
every operation, generated requests (valid and not) never make a server error, and every
response fits the spec. The examples are bounded to keep this to some seconds."""

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
from tests.service.conftest import ADMIN, HEARTBEAT, make_rota
from tests.service.server import Server, serving

EXAMPLES = 40


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
def api_schema(fuzzed_server: Server) -> schemathesis.BaseSchema:
    # The event stream never ends by itself: it is tested in test_events.py.
    return schemathesis.openapi.from_url(f"{fuzzed_server.url}/api/openapi.json").exclude(
        path="/api/events"
    )


def test_no_request_makes_a_server_error(api_schema: schemathesis.BaseSchema) -> None:
    # (schemathesis' pytest plugin does not work with this pytest: each operation is run
    # through hypothesis here instead.)
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 14
    for operation in operations:

        @given(
            case=st.one_of(
                operation.as_strategy(GenerationMode.POSITIVE),
                operation.as_strategy(GenerationMode.NEGATIVE),
            )
        )
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def check(case: schemathesis.Case) -> None:
            case.call_and_validate(
                headers={"Authorization": f"Bearer {ADMIN}"},
                checks=[
                    not_a_server_error,
                    status_code_conformance,
                    content_type_conformance,
                    response_schema_conformance,
                ],
                timeout=10,
            )

        check()
