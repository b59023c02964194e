"""rota inside a FastAPI app: the engine runs on the app's own event loop, started and stopped
by the lifespan; async endpoints use the ``_async`` calls, which never block that loop.

Run it with ``uvicorn examples.embedding.fastapi_app:app`` and open /jobs, or POST to
/jobs/refresh-metadata/run.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, HTTPException

from rota import Rota, RunContext, UnknownJobError, every

rota = Rota(os.environ.get("ROTA_EXAMPLE_DATABASE", "sqlite:///fastapi-app.db"))


@rota.job("refresh-metadata", schedule=every("6h"))
async def refresh_metadata(ctx: RunContext, limit: int = 100) -> None:
    """Refresh the metadata of the items that need it."""
    ctx.progress(limit, limit)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    async with rota.running(grace="5s"):  # the platform's SIGTERM leaves ~10 s
        yield


app = FastAPI(lifespan=lifespan)


@app.get("/jobs")
async def jobs() -> list[dict[str, Any]]:
    return [
        {"name": job.name, "schedule": job.schedule.describe(), "next": job.next_fire_at}
        for job in await rota.jobs_async()
    ]


@app.post("/jobs/{name}/run")
async def run(name: str, limit: int = 100) -> dict[str, Any]:
    try:
        run_id = await rota.run_now_async(name, limit=limit)
    except UnknownJobError as error:
        raise HTTPException(404, str(error)) from None
    finished = await rota.wait_async(run_id, timeout=30)
    return {"id": run_id, "status": finished.status.value}
