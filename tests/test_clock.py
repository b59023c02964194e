"""The fake clock wakes sleepers when told to, and only then; the system clock is the real one."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest

from rota.clock import Clock, SystemClock
from rota.testing import FakeClock

START = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def test_sleepers_wake_in_deadline_order_when_time_reaches_them() -> None:
    async def scenario() -> list[str]:
        clock = FakeClock(START)
        woke: list[str] = []

        async def sleeper(name: str, seconds: int) -> None:
            await clock.sleep_until(START + timedelta(seconds=seconds))
            woke.append(name)

        tasks = [asyncio.create_task(sleeper(n, s)) for n, s in [("b", 20), ("a", 10), ("c", 30)]]
        await asyncio.sleep(0)
        assert clock.next_deadline == START + timedelta(seconds=10)
        clock.advance(9)
        await asyncio.sleep(0)
        assert woke == []
        clock.advance(11)
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        assert woke == ["a", "b"]
        clock.set(START + timedelta(hours=1))
        await asyncio.gather(*tasks)
        return woke

    assert asyncio.run(scenario()) == ["a", "b", "c"]


def test_a_past_deadline_returns_at_once() -> None:
    clock = FakeClock(START)
    asyncio.run(asyncio.wait_for(clock.sleep_until(START - timedelta(seconds=1)), timeout=5))
    asyncio.run(asyncio.wait_for(clock.sleep_until(START), timeout=5))


def test_advancing_from_another_thread_wakes_the_loop() -> None:
    clock = FakeClock(START)

    async def scenario() -> None:
        waiting = asyncio.create_task(clock.sleep_until(START + timedelta(minutes=5)))
        await asyncio.sleep(0)
        helper = threading.Thread(target=clock.advance, args=(timedelta(minutes=5),))
        helper.start()
        await asyncio.wait_for(waiting, timeout=5)
        helper.join()

    asyncio.run(scenario())
    assert clock.now() == START + timedelta(minutes=5)


def test_a_cancelled_sleeper_is_not_counted() -> None:
    async def scenario() -> None:
        clock = FakeClock(START)
        task = asyncio.create_task(clock.sleep_until(START + timedelta(seconds=5)))
        await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert clock.next_deadline is None
        clock.advance(10)  # waking a cancelled sleeper does nothing

    asyncio.run(scenario())


def test_the_clock_does_not_go_backwards() -> None:
    clock = FakeClock(START)
    with pytest.raises(ValueError, match="does not go backwards"):
        clock.advance(-1)
    with pytest.raises(ValueError, match="does not go backwards"):
        clock.set(START - timedelta(seconds=1))
    with pytest.raises(ValueError, match="aware start"):
        FakeClock(datetime(2026, 1, 1))
    assert FakeClock("2026-01-01T01:00+01:00").now() == datetime(2026, 1, 1, tzinfo=UTC)


def test_system_clock_reads_and_waits_on_real_time() -> None:
    clock: Clock = SystemClock()
    before = datetime.now(UTC)
    now = clock.now()
    assert now.tzinfo is UTC
    assert before <= now <= datetime.now(UTC)

    async def short_wait() -> None:
        await asyncio.wait_for(clock.sleep_until(clock.now() + timedelta(milliseconds=5)), 5)

    asyncio.run(short_wait())
    assert clock.now() >= now + timedelta(milliseconds=5)


def test_the_system_clock_never_wakes_before_the_deadline() -> None:
    # Deadlines on both sides of the final stretch that is slept on the loop's thread.
    clock = SystemClock()

    async def woken_early() -> list[float]:
        early = []
        for microseconds in (300, 1_200, 1_600, 2_700, 10_400):
            deadline = clock.now() + timedelta(microseconds=microseconds)
            await clock.sleep_until(deadline)
            if clock.now() < deadline:
                early.append(microseconds)
        return early

    assert asyncio.run(woken_early()) == []


class _SteppedWall:
    """The system's wall time, plus a step a test sets."""

    def __init__(self) -> None:
        self.step = 0.0

    def __call__(self) -> float:
        return time.time() + self.step


@pytest.mark.parametrize("step", [-3600.0, 3600.0], ids=["back", "forward"])
def test_a_wall_clock_step_neither_stretches_nor_cuts_a_wait(
    step: float, caplog: pytest.LogCaptureFixture
) -> None:
    wall = _SteppedWall()
    clock = SystemClock(wall=wall, check_every=0.005)

    async def scenario() -> float:
        began = time.monotonic()
        waits = [
            asyncio.create_task(clock.sleep_until(clock.now() + timedelta(seconds=0.1)))
            for _ in range(2)
        ]
        await asyncio.sleep(0.01)
        wall.step = step
        await asyncio.wait_for(asyncio.gather(*waits), timeout=5)  # not the step's hour
        return time.monotonic() - began

    with caplog.at_level(logging.WARNING, logger="rota.clock"):
        elapsed = asyncio.run(scenario())
    assert elapsed >= 0.1  # a step forward did not end the waits early
    way = "back" if step < 0 else "forward"
    steps = [r.getMessage() for r in caplog.records if "stepped" in r.getMessage()]
    assert steps == [
        f"the system clock was stepped {way} by 3600.0 s; rota's waits go by elapsed time"
    ]
