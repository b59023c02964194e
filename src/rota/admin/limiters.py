"""What a limiters page shows (decision 0012): each limiter's capacity, period, the tokens that
count against it now, and when the oldest of them stops counting."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from rota.engine.limiter import LimiterSpec
from rota.store.abc import Store
from rota.store.limits import LimiterState, instant, micros

__all__ = ["LimiterInfo", "limiter_infos"]


@dataclass(frozen=True)
class LimiterInfo:
    """One limiter, as of `at`."""

    name: str
    capacity: int
    period: timedelta
    in_use: int
    """Tokens granted to nodes that still count against the capacity (spent, or held by a
    node to spend within a second)."""
    next_refill: datetime | None
    """When the oldest counted grant stops counting (None: nothing counts)."""
    declared: bool
    """Whether this process's code declares it (else only the store knows it)."""
    max_wait: timedelta | None
    at: datetime


def limiter_infos(
    store: Store, specs: Mapping[str, LimiterSpec], at: datetime
) -> list[LimiterInfo]:
    """Every limiter the code declares or the store knows, by name."""
    states = {state.name: state for state in store.limiter_states()}
    now = micros(at)
    infos: list[LimiterInfo] = []
    for name in sorted(set(states) | set(specs)):
        spec = specs.get(name)
        state = states.get(name)
        if state is None:
            assert spec is not None
            state = LimiterState(name, spec.capacity, micros(spec.period))
        refill = state.next_refill(now)
        infos.append(
            LimiterInfo(
                name=name,
                capacity=spec.capacity if spec is not None else state.capacity,
                period=spec.period if spec is not None else timedelta(microseconds=state.period),
                in_use=state.in_use(now),
                next_refill=None if refill is None else instant(refill),
                declared=spec is not None,
                max_wait=None if spec is None else spec.max_wait,
                at=at,
            )
        )
    return infos
