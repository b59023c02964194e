"""The demo on rota's engine (a fake clock) using issue 13's features as a visitor sees them: the
chain embeddings → recommendations → library-build, enrich-metadata's TMDb key prerequisite, the
`tmdb` limiter that keeps the jobs within the local TMDb's limit, and library-scan's spawned
fetch-artwork runs."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from pathlib import Path

import pytest

from rota.demo.app import Demo, build_demo
from rota.demo.library import Sizes
from rota.demo.tmdb_client import KEY_FILE, LIMITER
from rota.store.records import ACTIVE, Reason, RunRecord, RunStatus
from rota.testing import FakeClock

# Big enough that the artwork of a first scan and an enrichment need two windows of the limiter.
SIZES = Sizes(titles=60, catalog=10, users=4, events=200)
MATCHED = "SELECT id FROM titles WHERE state = 'present' AND tmdb_id IS NOT NULL ORDER BY id"


@pytest.fixture
async def demo(tmp_path: Path, clock: FakeClock) -> AsyncIterator[Demo]:
    """The demo on its real schedules (none of which fires while a test moves the clock a
    minute or two), its TMDb's gateway never giving up (test_app shows the retries)."""
    built = build_demo(tmp_path, clock=clock, pace=0, sizes=SIZES)
    built.tmdb.outages = False
    await built.rota.start_async()
    yield built
    await built.rota.stop_async(grace=0)
    built.close()


async def drive(demo: Demo, clock: FakeClock, done: Callable[[], bool]) -> None:
    """Wait until `done()`, moving the fake clock on when the demo waits for it: to the
    limiter's next refill once every token it gave out has reached the API (so none is in
    flight while the clock moves), else by half a second after a quiet real second (a
    retry's backoff). Fails after 60 real seconds."""
    deadline = time.monotonic() + 60
    answered, quiet_since = -1, time.monotonic()
    while not done():
        assert time.monotonic() < deadline, "not done within 60 s"
        if len(demo.tmdb.answers()) != answered:
            answered, quiet_since = len(demo.tmdb.answers()), time.monotonic()
        limiter = next(info for info in demo.rota.limiters() if info.name == LIMITER)
        arrived = demo.tmdb.in_window()
        if limiter.in_use >= limiter.capacity and arrived >= limiter.in_use:
            if limiter.next_refill is not None and limiter.next_refill > clock.now():
                clock.set(limiter.next_refill)
        elif time.monotonic() - quiet_since > 1:
            clock.advance(0.5)
            quiet_since = time.monotonic()
        await asyncio.sleep(0.005)


def finished(demo: Demo, *run_ids: int) -> Callable[[], bool]:
    """A check: these runs, and every fetch-artwork run, have finished."""

    def check() -> bool:
        if any(demo.rota.get_run(run_id).status in ACTIVE for run_id in run_ids):
            return False
        artwork = demo.rota.runs("fetch-artwork", limit=1000)
        return all(run.status not in ACTIVE for run in artwork)

    return check


async def standing_still(done: Callable[[], bool]) -> None:
    """Wait until `done()` without moving the clock; fail after 30 real seconds."""
    deadline = time.monotonic() + 30
    while not done():
        assert time.monotonic() < deadline, "not done within 30 s"
        await asyncio.sleep(0.005)


def matched(demo: Demo) -> list[int]:
    with demo.server.library.connect() as db:
        return [row[0] for row in db.execute(MATCHED)]


async def test_recommendations_and_library_build_follow_embeddings(
    demo: Demo, clock: FakeClock
) -> None:
    rota = demo.rota
    recommendations = rota.job_info("recommendations")
    assert list(recommendations.upstream) == ["embeddings"]
    assert list(recommendations.downstream) == ["library-build"]
    assert list(rota.job_info("embeddings").downstream) == ["recommendations"]
    embeddings = rota.run_now("embeddings")

    def built() -> bool:
        return any(r.status not in ACTIVE for r in rota.runs("library-build", limit=10))

    await drive(demo, clock, built)
    (recommended,) = rota.runs("recommendations")
    (collected,) = rota.runs("library-build")
    assert (recommended.reason, recommended.status) == (Reason.DEPENDENCY, RunStatus.SUCCEEDED)
    assert recommended.note == f"after embeddings (run {embeddings})"
    assert (collected.reason, collected.status) == (Reason.DEPENDENCY, RunStatus.SUCCEEDED)
    assert collected.note == f"after recommendations (run {recommended.id})"
    with demo.server.library.connect() as db:
        assert db.execute("SELECT count(*) FROM recommendations").fetchone()[0] > 0
        assert db.execute("SELECT count(*) FROM collections").fetchone()[0] > 0


async def test_without_the_tmdb_key_the_jobs_that_call_tmdb_are_skipped_saying_what_to_do(
    tmp_path: Path, clock: FakeClock
) -> None:
    demo = build_demo(tmp_path, clock=clock, pace=0, sizes=SIZES)
    demo.tmdb.outages = False
    await demo.rota.start_async()
    try:
        (tmp_path / KEY_FILE).unlink()  # as an admin who removed the key
        skipped = await outcome(demo, clock, demo.rota.run_now("enrich-metadata"))
        assert skipped.status is RunStatus.SKIPPED
        assert skipped.note is not None
        assert f"no TMDb API key: {tmp_path / KEY_FILE} is missing or empty" in skipped.note
        assert "restart the demo" in skipped.note
        artwork = await outcome(demo, clock, demo.rota.run_now("fetch-artwork", title_id=1))
        assert (artwork.status, artwork.note) == (RunStatus.SKIPPED, skipped.note)
        assert demo.tmdb.answers() == []  # the jobs were never called
    finally:
        await demo.rota.stop_async(grace=0)
        demo.close()
    # A restart writes the demo's key again, and its TMDb knows it.
    again = build_demo(tmp_path, clock=clock, pace=0, sizes=SIZES)
    again.tmdb.outages = False
    await again.rota.start_async()
    try:
        assert (tmp_path / KEY_FILE).read_text().strip() == again.tmdb.key
        enriched = await outcome(again, clock, again.rota.run_now("enrich-metadata"))
        assert enriched.status is RunStatus.SUCCEEDED, (enriched.error, enriched.note)
    finally:
        await again.rota.stop_async(grace=0)
        again.close()


async def outcome(demo: Demo, clock: FakeClock, run_id: int) -> RunRecord:
    await drive(demo, clock, lambda: demo.rota.get_run(run_id).status not in ACTIVE)
    return demo.rota.get_run(run_id)


async def test_the_tmdb_limiter_keeps_the_jobs_within_the_apis_limit(
    demo: Demo, clock: FakeClock
) -> None:
    rota = demo.rota
    (limiter,) = [info for info in rota.limiters() if info.name == LIMITER]
    assert (limiter.capacity, limiter.period) == (demo.tmdb.capacity, demo.tmdb.period)
    assert (limiter.capacity, limiter.period) == (40, timedelta(seconds=10))
    started = clock.now()
    scan, enrich = rota.run_now("library-scan"), rota.run_now("enrich-metadata")
    await drive(demo, clock, finished(demo, scan, enrich))
    assert rota.get_run(enrich).status is RunStatus.SUCCEEDED
    answers = demo.tmdb.answers()
    # More than one window's worth, and the API refused none of it: the jobs waited instead.
    assert len(answers) > 60
    assert {answer.status for answer in answers} == {200}
    assert demo.tmdb.most_in_a_window() <= 40
    assert answers[-1].at - answers[0].at >= timedelta(seconds=10)
    # Meanwhile the pollers went on: the waits held at most three of the six workers.
    polled = rota.runs("source-search", status="succeeded", since=started, limit=1).total
    assert polled > 0


async def test_library_scan_spawns_artwork_runs_that_fetch_each_poster_once(
    demo: Demo, clock: FakeClock
) -> None:
    rota = demo.rota
    titles = matched(demo)
    first = rota.run_now("library-scan")
    await standing_still(lambda: rota.get_run(first).status not in ACTIVE)
    # With the clock standing still, 40 fetches pass the limiter and the rest wait: a second
    # scan meanwhile asks for their posters again, and the keys of the waiting runs turn it
    # down.
    second = rota.run_now("library-scan")
    await standing_still(lambda: rota.get_run(second).status not in ACTIVE)
    assert rota.get_run(second).status is RunStatus.SUCCEEDED
    log = rota.get_run(second).log or ""
    asked = int(log.split("asked for the posters of ")[1].split()[0])
    await drive(demo, clock, finished(demo))
    runs = rota.runs("fetch-artwork", limit=1000)
    assert {run.args["title_id"] for run in runs} == set(titles)
    assert {(run.reason, run.status) for run in runs} == {(Reason.SPAWNED, RunStatus.SUCCEEDED)}
    firsts = [run for run in runs if run.parent_run_id == first]
    seconds = [run for run in runs if run.parent_run_id == second]
    assert len(firsts) + len(seconds) == len(runs)
    assert sorted(run.args["title_id"] for run in firsts) == titles
    assert {run.spawn_key for run in firsts} == {f"title:{title_id}" for title_id in titles}
    # The runs still waiting turned the second scan's spawns down; one that had ended in the
    # moment between the scan's look and its spawns' write let one through, which found the
    # poster there.
    assert len(seconds) < asked
    for run in seconds:
        assert "has its poster already" in (run.log or ""), run
    # One request per poster, all answered.
    posters = [a.path for a in demo.tmdb.answers() if a.path.endswith("/poster")]
    assert sorted(posters) == sorted(f"/3/movie/{10_000 + 7 * t}/poster" for t in titles)
    assert demo.server.library.counts()["artwork"] == len(titles)
    # Every poster fetched: the next scan asks for none.
    third = await outcome(demo, clock, rota.run_now("library-scan"))
    assert "asked for the posters" not in (third.log or "")
    assert rota.runs("fetch-artwork", limit=1).total == len(runs)
    artwork = rota.job_info("fetch-artwork").settings
    assert (artwork.overlap.value, artwork.max_concurrent) == ("allow", 2)
