"""The app factory: `asgi(rota)` is the whole service (REST API under ``/api``, server-sent
events, health, metrics) as one FastAPI app, to run with uvicorn or to mount in an existing
app under any path: ``app.mount("/jobs-admin", rota.asgi(my_rota))``.

The app does not start the engine unless asked (``start_engine=True`` starts it in the app's
lifespan and stops it on the way out): an app that runs its engine elsewhere (`rota.start()`,
another process, other nodes) serves the same API, since everything goes through the store.
"""

from __future__ import annotations

import logging
import math
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import Depends, FastAPI, Request, Response

from rota import web
from rota.app import Rota
from rota.errors import SettingError
from rota.service import (
    errors,
    events,
    health,
    metrics,
    routes_jobs,
    routes_limiters,
    routes_recent,
    routes_runs,
    routes_session,
    routes_timeline,
)
from rota.service.auth import Tokens, default_token_file
from rota.service.deps import authorize
from rota.service.login_limit import LoginLimiter
from rota.service.session import Sessions

__all__ = ["create_app"]

log = logging.getLogger("rota.service")
NO_LIFESPAN = (
    "asgi(start_engine=True) starts the engine in this app's lifespan, and it did not run (a "
    "mounted app gets none): start the engine in your own app's lifespan (`async with "
    "my_rota.running():`) and leave start_engine off"
)

API_PREFIX = "/api"
DESCRIPTION = """The admin API of a rota app: jobs, runs, nodes, live events, health, metrics.

Every request but `/healthz` and `/api/session` needs `Authorization: Bearer <token>` or the
session cookie from `POST /api/session`: the viewer reads, the admin does everything. A write
with the cookie must also send the session's `csrf_token` as the `X-CSRF-Token` header.
Times are ISO 8601 with an offset (UTC). Errors are JSON naming the field and the value at
fault (`ErrorOut`).
"""


def create_app(
    rota: Rota,
    *,
    start_engine: bool = False,
    admin_token: str | None = None,
    viewer_token: str | None = None,
    token_file: str | Path | None = None,
    heartbeat: float = 15.0,
) -> FastAPI:
    """The service for `rota` (see `rota.asgi`)."""
    if isinstance(heartbeat, bool) or not isinstance(heartbeat, int | float):
        raise SettingError("heartbeat", repr(heartbeat)[:40], "give seconds, a number above 0")
    if not (math.isfinite(heartbeat) and heartbeat > 0):
        raise SettingError("heartbeat", repr(heartbeat), "give seconds, a number above 0")
    path = Path(token_file) if token_file is not None else default_token_file(rota.database_url)
    tokens = Tokens.configure(admin_token, viewer_token, path)
    sessions = Sessions.configure(admin_token, tokens, path)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.rota_lifespan_ran = True
        if start_engine:
            await rota.start_async()
        try:
            yield
        finally:
            if start_engine:
                await rota.stop_async()

    app = FastAPI(
        title="rota",
        description=DESCRIPTION,
        version="1",
        openapi_url=f"{API_PREFIX}/openapi.json",
        # These pages load their scripts from a CDN: off (decision in DESIGN.md).
        docs_url=None,
        redoc_url=None,
        swagger_ui_oauth2_redirect_url=None,
        lifespan=lifespan,
    )
    app.state.rota = rota
    app.state.rota_tokens = tokens
    app.state.rota_sessions = sessions
    app.state.rota_login_limiter = LoginLimiter()
    app.state.rota_heartbeat = float(heartbeat)
    app.state.rota_start_engine = start_engine
    app.state.rota_lifespan_ran = False
    app.state.rota_no_lifespan_logged = False
    errors.install(app)
    if start_engine:
        _refuse_without_lifespan(app)
    guarded = [Depends(authorize)]
    app.include_router(health.open_router)
    app.include_router(routes_session.router, prefix=API_PREFIX)
    shared = errors.ERROR_RESPONSES
    app.include_router(health.router, dependencies=guarded, responses=shared)
    app.include_router(metrics.router, dependencies=guarded, responses=shared)
    for router in (routes_jobs.router, routes_runs.router, routes_limiters.router, events.router):
        app.include_router(router, prefix=API_PREFIX, dependencies=guarded, responses=shared)
    for router in (routes_timeline.router, routes_recent.router):  # what the page adds
        app.include_router(router, prefix=API_PREFIX, dependencies=guarded, responses=shared)
    web.install(app)  # the admin page at / (docs/page.md)
    return app


def _refuse_without_lifespan(app: FastAPI) -> None:
    """`start_engine=True` works through the app's lifespan, which Starlette does not run for a
    mounted app: rather than serve with no engine, every request is refused, naming the fix."""

    @app.middleware("http")
    async def check(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        if app.state.rota_lifespan_ran:
            return await call_next(request)
        if not app.state.rota_no_lifespan_logged:
            app.state.rota_no_lifespan_logged = True
            log.error("rota service: %s", NO_LIFESPAN)
        return errors.error_response(
            503, "engine_not_started", NO_LIFESPAN, field="start_engine", value=True
        )
