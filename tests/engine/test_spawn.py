"""Spawned runs from inside a job and `rota.enqueue` outside, on every store (decision 0012)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from rota import Retry, Rota
from rota.errors import SettingError, UnknownJobError
from rota.store.records import ACTIVE, Reason, RunStatus
from rota.testing import FakeClock
from tests.engine.conftest import eventually, outcome

MakeRota = Callable[..., Rota]


def counting_enqueues(rota: Rota) -> list[int]:
    """Wrap the store's `apply`: the sizes of the transactions that created spawned runs."""
    store = rota.store
    sizes: list[int] = []
    apply = store.apply

    def counted(operations: Any) -> list[Any]:
        spawned = sum(
            1 for o in operations if getattr(getattr(o, "run", None), "reason", None) == "spawned"
        )
        if spawned:
            sizes.append(spawned)
        return apply(operations)

    store.apply = counted  # type: ignore[method-assign]
    return sizes


async def test_a_run_spawns_linked_runs_with_checked_arguments(
    rotas: MakeRota, clock: FakeClock
) -> None:
    rota = rotas()
    fetched: list[int] = []

    @rota.job("fetch-artwork", overlap="allow", max_concurrent=5)
    def fetch_artwork(show_id: int, size: str = "large") -> None:
        fetched.append(show_id)

    @rota.job("library-scan")
    def library_scan(ctx) -> None:  # type: ignore[no-untyped-def]
        for show_id in (41, 42, 42, 43):  # 42 twice: one run for its key
            ctx.spawn("fetch-artwork", key=f"show:{show_id}", show_id=show_id)

    await rota.start_async()
    parent = rota.run_now("library-scan")
    assert (await outcome(rota, parent)).status is RunStatus.SUCCEEDED
    await eventually(lambda: sorted(fetched) == [41, 42, 43])
    runs = rota.runs("fetch-artwork", reason="spawned")
    assert {(r.parent_run_id, r.spawn_key, r.args["show_id"]) for r in runs} == {
        (parent, "show:41", 41),
        (parent, "show:42", 42),
        (parent, "show:43", 43),
    }
    assert all(r.reason is Reason.SPAWNED for r in runs)


async def test_bad_spawns_fail_the_run_naming_the_parameter(
    rotas: MakeRota, clock: FakeClock
) -> None:
    rota = rotas()

    @rota.job("fetch-artwork")
    def fetch_artwork(show_id: int) -> None:
        pass

    @rota.job("scan")
    def scan(ctx, target: str = "fetch-artwork", **args: Any) -> None:  # type: ignore[no-untyped-def]
        ctx.spawn(target, **args)

    await rota.start_async()
    missing = await outcome(rota, rota.run_now("scan"))
    assert missing.error is not None
    assert "needs a value for parameter 'show_id'" in missing.error
    unknown = await outcome(rota, rota.run_now("scan", show_id=1, colour="red"))
    assert unknown.error is not None
    assert "has no parameter 'colour'" in unknown.error
    no_job = await outcome(rota, rota.run_now("scan", target="fetch-artworks", show_id=1))
    assert no_job.error is not None
    assert "fetch-artworks" in no_job.error
    assert rota.runs("fetch-artwork").total == 0


async def test_5000_spawns_are_a_few_transactions(rotas: MakeRota, clock: FakeClock) -> None:
    rota = rotas(workers=1)  # the spawned runs wait for the spawning one to end

    @rota.job("fetch-artwork")
    def fetch_artwork(show_id: int) -> None:
        pass

    @rota.job("refresh-shows")
    def refresh(ctx) -> None:  # type: ignore[no-untyped-def]
        for show_id in range(5000):
            ctx.spawn("fetch-artwork", key=f"show:{show_id}", show_id=show_id)

    await rota.start_async()
    sizes = counting_enqueues(rota)
    parent = rota.run_now("refresh-shows")
    # Writing 5,000 runs with their events takes a few seconds on a busy machine.
    await eventually(lambda: rota.get_run(parent).status not in ACTIVE, timeout=60)
    assert rota.get_run(parent).status is RunStatus.SUCCEEDED
    assert sum(sizes) == 5000
    assert len(sizes) <= 6, sizes
    children = rota.runs("fetch-artwork", reason="spawned", limit=1)
    assert children.total == 5000


async def test_enqueue_outside_a_job_is_de_duplicated_by_key(
    rotas: MakeRota, clock: FakeClock
) -> None:
    rota = rotas()

    @rota.job("fetch-artwork")
    def fetch_artwork(show_id: int) -> None:
        pass

    first = rota.enqueue("fetch-artwork", key="show:42", show_id=42)
    assert isinstance(first, int)
    assert rota.enqueue("fetch-artwork", key="show:42", show_id=42) is None
    assert await rota.enqueue_async("fetch-artwork", key="show:42", show_id=42) is None
    run = rota.get_run(first)
    assert (run.reason, run.parent_run_id, run.args) == (Reason.SPAWNED, None, {"show_id": 42})
    with pytest.raises(SettingError, match="show_id"):
        rota.enqueue("fetch-artwork", key="show:43")
    with pytest.raises(SettingError, match="key"):
        rota.enqueue("fetch-artwork", key="", show_id=1)
    with pytest.raises(UnknownJobError):
        rota.enqueue("nope", show_id=1)
    await rota.start_async()
    assert (await outcome(rota, first)).status is RunStatus.SUCCEEDED
    # Finished: the key is free again.
    assert isinstance(rota.enqueue("fetch-artwork", key="show:42", show_id=42), int)


async def test_a_spawned_run_s_retry_keeps_its_parent_and_key(
    rotas: MakeRota, clock: FakeClock
) -> None:
    rota = rotas()

    @rota.job("fetch-artwork", retry=Retry(2, backoff="10s"))
    def fetch_artwork(ctx, show_id: int) -> None:  # type: ignore[no-untyped-def]
        if ctx.run.attempt == 1:
            raise ConnectionError("TMDb is down")

    @rota.job("scan")
    def scan(ctx) -> None:  # type: ignore[no-untyped-def]
        ctx.spawn("fetch-artwork", key="show:42", show_id=42)

    await rota.start_async()
    parent = rota.run_now("scan")
    await outcome(rota, parent)
    await eventually(lambda: rota.runs("fetch-artwork", reason="retry").total == 1)
    retry = rota.runs("fetch-artwork", reason="retry")[0]
    assert (retry.parent_run_id, retry.spawn_key) == (parent, "show:42")
    # While the retry waits, the key is taken.
    assert rota.enqueue("fetch-artwork", key="show:42", show_id=42) is None
    clock.advance(10)
    assert (await outcome(rota, retry.id)).status is RunStatus.SUCCEEDED
