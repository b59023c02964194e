"""Which backend a command uses, and the errors when none or two are named, or the service
cannot be reached or refuses the token."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from tests.cli.app import rota as app_rota
from tests.cli.conftest import ADMIN, VIEWER, Served, invoke


def test_without_a_store_the_error_names_the_three_ways() -> None:
    result = invoke("jobs")
    assert result.exit_code == 2
    assert result.stderr.startswith("error: store: say where the jobs are: --database-url")
    assert "--app" in result.stderr
    assert "--url" in result.stderr


def test_a_missing_sqlite_file_is_not_made(tmp_path: Path) -> None:
    result = invoke("jobs", "--database-url", f"sqlite:///{tmp_path}/typo.db")
    assert result.exit_code == 1
    assert result.stderr.startswith(f"error: database: {tmp_path}/typo.db does not exist")
    assert not (tmp_path / "typo.db").exists()


def test_an_unsupported_url_is_named() -> None:
    result = invoke("jobs", "--database-url", "mysql://localhost/x")
    assert result.exit_code == 1
    assert result.stderr.startswith("error: store URL 'mysql://localhost/x' is not supported")


def test_the_command_line_wins_over_the_environment(served: Served) -> None:
    # ROTA_URL in the environment, --database-url given: the store is used, no token needed.
    result = invoke(
        "jobs", "--json", "--database-url", served.url, env={"ROTA_URL": "http://127.0.0.1:9"}
    )
    assert result.exit_code == 0, result.output
    assert "nightly" in {job["name"] for job in json.loads(result.stdout)}


def test_two_ways_on_the_command_line_clash(served: Served) -> None:
    result = invoke("jobs", "--database-url", served.url, "--url", served.server.url)
    assert result.exit_code == 2
    assert result.stderr == "error: options: give one of --url, --database-url, not both\n"


def test_a_service_needs_a_token(served: Served) -> None:
    result = invoke("jobs", "--url", served.server.url)
    assert result.exit_code == 2
    assert result.stderr.startswith("error: token: $ROTA_TOKEN is not set")
    other = invoke(
        "jobs",
        "--json",
        "--url",
        served.server.url,
        "--token-env",
        "MY_TOKEN",
        env={"MY_TOKEN": ADMIN},
    )
    assert other.exit_code == 0, other.output


def test_a_wrong_token_and_a_viewers_change_are_refused(served: Served) -> None:
    wrong = invoke("jobs", env={"ROTA_URL": served.server.url, "ROTA_TOKEN": "x" * 30})
    assert wrong.exit_code == 1
    assert wrong.stderr.startswith("error: token: the service at http://127.0.0.1:")
    viewer = {"ROTA_URL": served.server.url, "ROTA_TOKEN": VIEWER}
    assert invoke("jobs", env=viewer).exit_code == 0
    refused = invoke("jobs", "pause", "nightly", env=viewer)
    assert refused.exit_code == 1
    assert refused.stderr == (
        "error: token: the token in $ROTA_TOKEN may only read; this needs the admin token\n"
    )


def test_an_unreachable_service_is_named() -> None:
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    result = invoke("jobs", env={"ROTA_URL": f"http://127.0.0.1:{port}", "ROTA_TOKEN": ADMIN})
    assert result.exit_code == 1
    assert result.stderr.startswith(f"error: service: http://127.0.0.1:{port} cannot be reached")


@pytest.mark.parametrize("url", ["ftp://example.org", "localhost:8000"])
def test_a_url_that_is_not_http_is_refused(url: str) -> None:
    result = invoke("jobs", env={"ROTA_URL": url, "ROTA_TOKEN": ADMIN})
    assert result.exit_code == 2
    assert result.stderr == f"error: url: {url!r} is not an http:// or https:// URL\n"


def test_a_url_without_the_api_says_so(served: Served) -> None:
    result = invoke("jobs", env={"ROTA_URL": served.server.url + "/elsewhere", "ROTA_TOKEN": ADMIN})
    assert result.exit_code == 1
    assert "has no rota API at" in result.stderr


def test_the_apps_rota_is_used_with_app() -> None:
    app_rota.jobs()  # its memory store, with its jobs
    app_rota.pause("nightly", "from the app's own Rota")
    try:
        result = invoke("jobs", "show", "nightly", "--app", "tests.cli.app:rota")
        assert result.exit_code == 0, result.output
        assert "state         paused (from the app's own Rota)" in result.stdout
    finally:
        app_rota.reset("nightly")


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("tests.cli.app", "error: app: 'tests.cli.app' is not 'module:attribute'"),
        ("tests.cli.nowhere:rota", "error: app: module 'tests.cli.nowhere' cannot be imported"),
        ("tests.cli.app:nothing", "error: app: module 'tests.cli.app' has no attribute 'nothing'"),
        ("tests.cli.app:make_rota", "error: app: 'tests.cli.app:make_rota' is a function, not"),
    ],
)
def test_a_bad_app_is_named(spec: str, message: str) -> None:
    result = invoke("jobs", "--app", spec)
    assert result.exit_code == 2
    assert result.stderr.startswith(message), result.stderr


def test_the_groups_options_reach_its_subcommands(served: Served) -> None:
    result = invoke("jobs", "--database-url", served.url, "show", "nightly")
    assert result.exit_code == 0, result.output
    remote = invoke("runs", "--url", served.server.url, "show", "999999", env={"ROTA_TOKEN": ADMIN})
    assert remote.stderr == "error: run: no run has id 999999\n"
