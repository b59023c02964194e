"""Prerequisites (`requires=`): checks run before the job; the first not met skips the run with
its reason and the job is never called; a check that raises fails the run (decision 0011). On
every store, on the fake clock."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from rota import Retry, Rota, SettingError
from rota.store.records import RunStatus
from rota.testing import FakeClock
from tests.engine import checks_for_tests, isolated_jobs
from tests.engine.conftest import eventually, finished, outcome

MakeRota = Callable[..., Rota]


async def test_a_check_not_met_skips_the_run_with_its_reason(rotas: MakeRota) -> None:
    rota = rotas()
    called: list[str] = []
    synced = {"done": False}

    def content_synced() -> bool | str:
        return True if synced["done"] else "content is not synced yet"

    async def has_key(ctx) -> bool:  # type: ignore[no-untyped-def]
        assert ctx.run.job == "enrich-metadata"  # a check may take the run's context
        return True

    @rota.job("enrich-metadata", requires=[has_key, content_synced])
    def enrich() -> None:
        called.append("enrich")

    await rota.start_async()
    skipped = await outcome(rota, rota.run_now("enrich-metadata"))
    assert (skipped.status, skipped.note) == (RunStatus.SKIPPED, "content is not synced yet")
    assert called == []
    synced["done"] = True
    ran = await outcome(rota, rota.run_now("enrich-metadata"))
    assert ran.status is RunStatus.SUCCEEDED
    assert called == ["enrich"]


async def test_false_gives_a_generic_reason_and_an_async_job_is_checked_too(
    rotas: MakeRota,
) -> None:
    rota = rotas()
    called: list[str] = []

    async def never() -> bool:
        return False

    @rota.job("scan", requires=[never])
    async def scan() -> None:
        called.append("scan")

    await rota.start_async()
    run = await outcome(rota, rota.run_now("scan"))
    assert (run.status, run.note) == (RunStatus.SKIPPED, "check never was not met")
    assert called == []


async def test_a_check_that_raises_fails_the_run_and_is_retried(
    rotas: MakeRota, clock: FakeClock
) -> None:
    rota = rotas()
    calls: list[int] = []

    def broken() -> bool:
        calls.append(1)
        raise ConnectionError("the key store is down")

    rota.job("enrich", requires=[broken], retry=Retry(2, backoff="10s"))(lambda: None)
    await rota.start_async()
    run = await outcome(rota, rota.run_now("enrich"))
    assert run.status is RunStatus.FAILED
    assert run.error == "ConnectionError: the key store is down"
    assert "in broken" in (run.traceback or "")
    clock.advance(10)
    await eventually(finished(rota, "enrich", 2))
    assert calls == [1, 1]


async def test_a_check_returning_something_else_fails_the_run_naming_it(rotas: MakeRota) -> None:
    rota = rotas()
    rota.job("odd", requires=[lambda: 42])(lambda: None)
    await rota.start_async()
    run = await outcome(rota, rota.run_now("odd"))
    assert run.status is RunStatus.FAILED
    assert "returned 42" in (run.error or "")


async def test_a_skipped_upstream_does_not_trigger_the_jobs_after_it(rotas: MakeRota) -> None:
    rota = rotas()
    rota.job("sync", requires=[lambda: "offline"])(lambda: None)
    rota.job("embeddings", schedule="after sync")(lambda: None)
    await rota.start_async()
    run = await outcome(rota, rota.run_now("sync"))
    assert run.status is RunStatus.SKIPPED
    await asyncio.sleep(0.05)
    assert rota.runs("embeddings") == []


async def test_a_run_time_job_names_its_checks_by_import_path(rotas: MakeRota) -> None:
    rota = rotas()
    await rota.start_async()
    info = rota.add_job(
        "enrich",
        "tests.engine.checks_for_tests:enrich",
        requires=["tests.engine.checks_for_tests:tmdb_key_set"],
    )
    assert info.defaults["requires"] == ["tests.engine.checks_for_tests:tmdb_key_set"]
    await eventually(lambda: rota.engine is not None and "enrich" in rota.engine.jobs)
    run = await outcome(rota, rota.run_now("enrich"))
    assert (run.status, run.note) == (RunStatus.SKIPPED, "no TMDb key configured")
    checks_for_tests.KEYS["tmdb"] = "k"
    try:
        run = await outcome(rota, rota.run_now("enrich"))
        assert run.status is RunStatus.SUCCEEDED
    finally:
        checks_for_tests.KEYS.clear()


async def test_requires_is_code_and_bad_values_are_refused(rotas: MakeRota) -> None:
    rota = rotas()
    with pytest.raises(SettingError, match="give a list of checks"):
        rota.job("a", requires=checks_for_tests.tmdb_key_set)(lambda: None)  # type: ignore[arg-type]
    with pytest.raises(SettingError, match="is not callable"):
        rota.job("a", requires=[42])(lambda: None)  # type: ignore[list-item]
    with pytest.raises(SettingError, match=r"package\.module:function"):
        rota.job("a", requires=["no-colon"])(lambda: None)
    rota.job("a", requires=[checks_for_tests.tmdb_key_set])(lambda: None)
    with pytest.raises(SettingError, match="an admin cannot override it"):
        rota.override("a", requires=[])
    info = rota.job_info("a")
    assert info.defaults["requires"] == ["tests.engine.checks_for_tests:tmdb_key_set"]


async def test_a_process_isolated_job_is_checked_before_its_process_starts(
    rotas: MakeRota,
) -> None:
    rota = rotas()
    rota.job("end", isolation="process", requires=[lambda: "not today"])(isolated_jobs.end)
    await rota.start_async()
    run = await outcome(rota, rota.run_now("end", how="done"))
    assert (run.status, run.note) == (RunStatus.SKIPPED, "not today")


async def test_a_check_that_hangs_is_cut_by_the_runs_timeout(
    rotas: MakeRota, clock: FakeClock
) -> None:
    rota = rotas()
    called: list[str] = []

    async def waits_forever() -> bool:
        await asyncio.Event().wait()
        return True

    @rota.job("scan", requires=[waits_forever], timeout="1m")
    async def scan() -> None:
        called.append("scan")

    await rota.start_async()
    run_id = rota.run_now("scan")
    await eventually(lambda: rota.get_run(run_id).status is RunStatus.RUNNING)
    clock.advance(60)
    run = await outcome(rota, run_id)
    assert run.status is RunStatus.TIMED_OUT
    assert called == []
