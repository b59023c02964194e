"""The service's tests run against a real uvicorn server on a free port, with the engine running
in the app's lifespan on the real clock, on SQLite and on PostgreSQL (a schema of this session's
own). One server per module and store; tests use job names of their own or filter by job."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx2
import pytest

from rota import Rota, RunContext, asgi
from tests.postgres import store_url_for
from tests.service.server import Server, client, serving

ADMIN = "admin-token-for-tests-0123456789"
VIEWER = "viewer-token-for-tests-0123456789"
HEARTBEAT = 0.2  # seconds between an idle event stream's comments


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def store_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A SQLite file, or a PostgreSQL schema of this session's own (dropped at the end)."""
    yield from store_url_for(request.param, tmp_path_factory.mktemp("sqlite"))


def make_rota(url: str) -> Rota:
    """The app under test: a few manual jobs and one on a daily schedule."""
    rota = Rota(url, timezone="Europe/Berlin", heartbeat=1, lease=3, shutdown_grace=1)

    @rota.job("echo")
    def echo(ctx: RunContext, text: str = "hi") -> str:
        """Log its text."""
        ctx.log.info("echo %s", text)
        return text

    @rota.job("slow")
    def slow(ctx: RunContext, seconds: float = 30) -> None:
        """Wait until cancelled or its time is up."""
        ctx.progress(0, 1, "waiting")
        deadline = time.monotonic() + seconds
        while not ctx.cancelled and time.monotonic() < deadline:
            time.sleep(0.01)

    @rota.job("boom", retry=1)
    def boom() -> None:
        """Fail."""
        raise RuntimeError("boom went the job")

    @rota.job("nightly", schedule="daily 03:00", overlap="skip")
    def nightly() -> None:
        """Once a night."""

    rota.limiter("tmdb", 40, per="10s")

    @rota.job("lookup")
    def lookup(ctx: RunContext, items: int = 1) -> None:
        """Draw on the tmdb limiter, and spawn an echo per item."""
        for item in range(items):
            with ctx.limit("tmdb", cost=2):
                ctx.spawn("echo", key=f"lookup:{item}", text=f"item {item}")

    @rota.job("gated", requires=[api_key_set])
    def gated() -> None:
        """Never called: its prerequisite is not met."""
        raise AssertionError("a prerequisite that is not met must keep the job from running")

    return rota


def api_key_set() -> bool | str:
    """A prerequisite that is never met, with the reason an admin sees."""
    return "no API key: set GATED_KEY"


@dataclass
class Service:
    rota: Rota
    server: Server
    admin: httpx2.Client
    viewer: httpx2.Client
    anonymous: httpx2.Client


@pytest.fixture(scope="session")
def service(store_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """The app with its engine, served by uvicorn, and clients with each token and none."""
    rota = make_rota(store_url)
    app = asgi(
        rota,
        start_engine=True,
        admin_token=ADMIN,
        viewer_token=VIEWER,
        heartbeat=HEARTBEAT,
        token_file=Path(tmp_path_factory.mktemp("tokens")) / "unused",
    )
    with serving(app) as server:
        clients = [client(server, t) for t in (ADMIN, VIEWER, None)]
        try:
            yield Service(rota, server, *clients)
        finally:
            for c in clients:
                c.close()
    rota.close()
