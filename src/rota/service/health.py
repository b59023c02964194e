"""``/healthz`` (the process answers: open to all) and ``/readyz`` (the store answers; the engine
runs, if this app runs one or this process started one; its lease is held): 503 with the reason
otherwise."""

from __future__ import annotations

import asyncio
from typing import Literal

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from rota.app import Rota
from rota.service.deps import RotaDep

__all__ = ["open_router", "router"]

open_router = APIRouter(tags=["health"])
router = APIRouter(tags=["health"])
STORE_TIMEOUT = 5.0  # seconds a readiness check waits for the store


class Health(BaseModel):
    """Whether this process (or this app) can do its work, and if not, why."""

    status: Literal["ok", "unavailable"]
    reason: str | None = Field(default=None, examples=[None])


@open_router.get("/healthz", response_model=Health, summary="Liveness")
async def healthz() -> Health:
    """The process answers (no token needed)."""
    return Health(status="ok")


@router.get(
    "/readyz",
    response_model=Health,
    summary="Readiness",
    responses={503: {"model": Health, "description": "Not ready, and why."}},
)
async def readyz(request: Request, rota: RotaDep) -> JSONResponse:
    """The store answers; the engine runs if this app runs one, and holds its lease."""
    problem = await _problem(rota, request.app.state.rota_start_engine)
    body = Health(status="ok" if problem is None else "unavailable", reason=problem)
    return JSONResponse(body.model_dump(), status_code=200 if problem is None else 503)


async def _problem(rota: Rota, engine_expected: bool) -> str | None:
    try:
        await asyncio.wait_for(asyncio.to_thread(lambda: rota.store.last_event_id()), STORE_TIMEOUT)
    except TimeoutError:
        return f"the store did not answer within {STORE_TIMEOUT:g} s"
    except Exception as error:
        return f"the store cannot be reached: {type(error).__name__}"
    engine = rota.engine
    if engine is None:
        return "the engine is not running" if engine_expected else None
    if engine.loop is None or engine.loop.is_closed():
        return "the engine's loop is not running"
    held_for = rota.clock.now() - engine.nodes.renewed_at
    if held_for >= rota.lease:
        return (
            f"this node has not renewed its lease for {held_for.total_seconds():.0f} s "
            f"(a lease lasts {rota.lease.total_seconds():.0f} s)"
        )
    return None
