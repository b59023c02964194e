"""The CLI's tests run every admin command both ways: on the store (``local``: the database URL
in ROTA_DATABASE_URL) and through a real uvicorn server on a free port (``remote``: ROTA_URL and
ROTA_TOKEN), against one app whose engine runs in that server, on the real clock."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from rota import Rota, asgi
from rota.cli import main
from tests.cli.app import make_rota
from tests.service.server import Server, serving

ADMIN = "admin-token-for-cli-tests-0123456789"
VIEWER = "viewer-token-for-cli-tests-0123456789"
# Neither backend may be chosen by what the machine's environment happens to hold.
CLEAN = {"ROTA_URL": None, "ROTA_TOKEN": None, "ROTA_DATABASE_URL": None}


@dataclass
class Served:
    rota: Rota
    server: Server
    url: str  # the store's


@pytest.fixture(scope="session")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """The test app with its engine, on SQLite, served by uvicorn."""
    url = f"sqlite:///{tmp_path_factory.mktemp('cli')}/rota.db"
    rota = make_rota(url)
    app = asgi(
        rota,
        start_engine=True,
        admin_token=ADMIN,
        viewer_token=VIEWER,
        token_file=Path(tmp_path_factory.mktemp("tokens")) / "unused",
        heartbeat=0.2,
    )
    with serving(app) as server:
        yield Served(rota, server, url)
    rota.close()


Run = Callable[..., Result]


def invoke(
    *args: str, env: dict[str, str | None] | None = None, input: str | None = None
) -> Result:
    """``rota ARGS`` in this process, with a clean environment but for `env`."""
    return CliRunner().invoke(main, list(args), env={**CLEAN, **(env or {})}, input=input)


@pytest.fixture(params=["local", "remote"])
def rota_cli(request: pytest.FixtureRequest, served: Served) -> Run:
    """``rota ARGS`` on the served app's store, directly or through the service."""
    if request.param == "local":
        env: dict[str, str | None] = {"ROTA_DATABASE_URL": served.url}
    else:
        env = {"ROTA_URL": served.server.url, "ROTA_TOKEN": ADMIN}

    def run(*args: str, input: str | None = None) -> Result:
        return invoke(*args, env=env, input=input)

    return run


def start_slow(served: Served, seconds: float = 20) -> int:
    """A run of ``slow`` that is running (one still leaving its slot may skip a first try)."""
    from tests.service.server import until

    def started() -> int | None:
        run_id = served.rota.run_now("slow", seconds=seconds)
        status = until(lambda: _settled(served, run_id), "the run to start or be skipped")
        return run_id if status == "running" else None

    return until(started, "a run of slow to start")


def _settled(served: Served, run_id: int) -> str | None:
    status = served.rota.get_run(run_id).status.value
    return None if status == "queued" else status
