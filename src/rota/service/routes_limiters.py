"""Shared rate limiters (decision 0012): each one's use, capacity, period and next refill."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel, Field

from rota.admin.limiters import LimiterInfo
from rota.admin.shapes import limiter_json
from rota.service.deps import RotaDep

__all__ = ["LimiterOut", "router"]

router = APIRouter()


class LimiterOut(BaseModel):
    """One limiter: `in_use` of `capacity` tokens count now; more come back at `next_refill`."""

    name: str = Field(examples=["tmdb"])
    capacity: int = Field(description="Tokens per period, all nodes together.", examples=[40])
    period_seconds: float = Field(examples=[10.0])
    in_use: int = Field(
        description="Tokens granted to nodes that count against the capacity now (spent, or "
        "held by a node to spend within a second). Acquisitions are counted, not runs.",
        examples=[12],
    )
    next_refill: datetime | None = Field(
        description="When the oldest tokens in use stop counting; null when none are in use."
    )
    max_wait_seconds: float | None = Field(
        description="How long a run waits for capacity before it is retried later; null for a "
        "limiter the serving process's code does not declare."
    )
    declared: bool = Field(description="Whether the serving process's code declares it.")

    @classmethod
    def of(cls, info: LimiterInfo) -> LimiterOut:
        return cls.model_validate(limiter_json(info))


@router.get(
    "/limiters",
    response_model=list[LimiterOut],
    summary="List rate limiters",
    tags=["limiters"],
)
async def list_limiters(rota: RotaDep) -> list[LimiterOut]:
    """Every limiter the code declares or the store knows, by name."""
    infos = await rota.limiters_async()
    return [LimiterOut.of(info) for info in infos]
