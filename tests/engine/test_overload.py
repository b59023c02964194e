"""Under overload: bounded fire transactions, fair starts, one skipped row per streak, visible lag."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from rota import Rota
from rota.engine import core
from rota.store.abc import Fire
from rota.testing import FakeClock
from tests.engine.conftest import eventually

MakeRota = Callable[..., Rota]


def count_fires_per_transaction(rota: Rota) -> list[int]:
    """Wrap the store's `apply`: the number of Fires in each transaction, as it goes."""
    store = rota.store
    apply = store.apply
    sizes: list[int] = []

    def counting(operations: Any) -> list[Any]:
        fires = sum(isinstance(operation, Fire) for operation in operations)
        if fires:
            sizes.append(fires)
        return apply(operations)

    store.apply = counting  # type: ignore[method-assign]
    return sizes


async def test_many_due_fire_times_are_written_in_bounded_transactions(
    rotas: MakeRota, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(core, "FIRE_BATCH", 10, raising=False)
    rota = rotas()
    for index in range(35):
        rota.job(f"j{index:02}", schedule="every 1m")(lambda: None)
    await rota.start_async()
    sizes = count_fires_per_transaction(rota)
    clock.advance(timedelta(minutes=1))
    await eventually(lambda: sum(sizes) == 35)
    assert max(sizes) <= 10
    assert len(sizes) >= 4
    for index in range(35):
        assert rota.job_info(f"j{index:02}").next_fire_at == clock.now() + timedelta(minutes=1)


async def test_a_job_with_many_waiting_runs_does_not_starve_the_others(
    rotas: MakeRota, clock: FakeClock
) -> None:
    rota = rotas(workers=1)
    gate = asyncio.Event()
    order: list[str] = []

    @rota.job("gate")
    async def hold() -> None:
        await gate.wait()

    @rota.job("busy", overlap="allow", max_concurrent=10)
    async def busy() -> None:
        order.append("busy")

    @rota.job("quiet")
    async def quiet() -> None:
        order.append("quiet")

    await rota.start_async()
    rota.run_now("gate")
    await eventually(lambda: rota.runs("gate", status="running"))
    for _ in range(3):
        rota.run_now("busy")
    rota.run_now("quiet")
    await eventually(lambda: len(rota.runs(status="queued")) == 4)
    await asyncio.sleep(0.05)  # the notices of the queued runs reach the engine
    gate.set()
    await eventually(lambda: len(order) == 4)
    assert order == ["busy", "quiet", "busy", "busy"]
