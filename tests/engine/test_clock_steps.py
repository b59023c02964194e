"""A wall-clock step while the engine runs: interval schedules go on by elapsed time, wall-clock
schedules keep their wall times. A `SystemClock` on time sources the test steps."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from rota import Rota
from rota.clock import SystemClock
from rota.store.records import Reason
from tests.engine.conftest import START, eventually


class Sources:
    """Wall and monotonic seconds that move only when told to; `step` moves the wall alone."""

    def __init__(self) -> None:
        self.wall_s = START.timestamp()
        self.mono_s = 1000.0

    def wall(self) -> float:
        return self.wall_s

    def monotonic(self) -> float:
        return self.mono_s

    def advance(self, seconds: float) -> None:
        self.wall_s += seconds
        self.mono_s += seconds

    def step(self, seconds: float) -> None:
        self.wall_s += seconds


@pytest.mark.parametrize("step", [-3600, 3600])
async def test_an_interval_job_keeps_its_period_across_a_step(
    step: int, request: pytest.FixtureRequest, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO")
    sources = Sources()
    clock = SystemClock(wall=sources.wall, monotonic=sources.monotonic, check_every=0.01)
    rota = Rota(f"memory://{request.node.name}", timezone="UTC", clock=clock)
    fired: list[object] = []

    @rota.job("tick", schedule="every 1m")
    async def tick() -> None:
        fired.append(clock.now())

    @rota.job("report", schedule="0 12 * * *")
    async def report() -> None:
        pass

    await rota.start_async()
    try:
        report_at = rota.job_info("report").next_fire_at
        sources.advance(60)
        await eventually(lambda: len(fired) == 1)
        sources.step(step)
        await asyncio.sleep(0.1)  # a waiting task notices the step
        assert any("clock was stepped" in r.getMessage() for r in caplog.records)
        sources.advance(60)
        await eventually(lambda: len(fired) == 2, timeout=3)
        # A minute of elapsed time later it fires again: the step is not waited out.
        assert fired[1] == START + timedelta(seconds=120 + step)
        latest = rota.runs("tick")[0]
        assert (latest.reason, latest.fire_time) == (Reason.SCHEDULE, fired[1])
        # A wall-clock schedule keeps its wall time.
        assert rota.job_info("report").next_fire_at == report_at
    finally:
        await rota.stop_async(grace=0)
