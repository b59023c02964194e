"""The jobs that call the local TMDb over HTTP (enrich-metadata, fetch-artwork), and library-scan
asking for artwork, on a tiny library with a context and no engine (the engine's side, the
limiter and the spawned runs: test_chain_and_tmdb)."""

from __future__ import annotations

from pathlib import Path

import pytest

from rota.demo import media, metadata
from rota.demo.server import MediaServer
from rota.demo.sources import GATEWAY_TIMEOUTS, gateway_times_out, invented_details
from rota.demo.tmdb import FakeTmdb
from rota.demo.tmdb_client import KEY_FILE, MetadataTimeout, Tmdb, TmdbError
from rota.outcomes import Retry, Skip
from rota.testing import FakeClock
from tests.demo.conftest import context, log, progress, run

MISSING = "SELECT count(*) FROM titles WHERE state = 'present' AND enriched_at IS NULL"


def count(server: MediaServer, query: str) -> int:
    with server.library.connect() as db:
        return int(db.execute(query).fetchone()[0])


def test_enrich_metadata_finds_missing_titles_and_refreshes_the_stalest(
    server: MediaServer, api: FakeTmdb
) -> None:
    missing = count(server, MISSING)
    assert missing > 0
    ctx = run(metadata.enrich_metadata, server)
    assert count(server, MISSING) == 0
    with server.library.connect() as db:
        rows = db.execute("SELECT id, overview, tmdb_id FROM titles WHERE state = 'present'")
        for title_id, overview, tmdb_id in rows:
            details = invented_details(server.seed, title_id)
            assert (overview, tmdb_id) == (details.overview, details.tmdb_id)
    done = missing + metadata.REFRESHED_PER_RUN
    assert progress(ctx)[:2] == (done, done)
    assert f"enriched {done} titles ({missing} were missing metadata" in log(ctx)
    # Over HTTP: a search per missing title, the details of each stale one.
    paths = [answer.path for answer in api.answers()]
    assert paths.count("/3/search/movie") == missing
    assert len(paths) == done
    assert {answer.status for answer in api.answers()} == {200}


def test_a_gateway_timeout_fails_the_run_and_keeps_what_was_fetched(
    server: MediaServer, api: FakeTmdb
) -> None:
    api.outages = True
    for _ in range(40):  # about one request in 40 meets it: a run of ~20 now and then
        before = count(server, MISSING)
        try:
            run(metadata.enrich_metadata, server)
        except MetadataTimeout as error:
            message = str(error)
            break
    else:
        raise AssertionError("40 runs of enrich-metadata and no gateway timeout")
    assert "TMDb's gateway gave up (504 Gateway Timeout) at '" in message
    assert "titles done; they are kept)" in message
    done = int(message.rsplit("(", 1)[1].split(" of ")[0])
    assert count(server, MISSING) == max(before - done, 0)  # the missing come first
    assert 504 in {answer.status for answer in api.answers()}
    # Now and then, the same requests each time: drawn from the seed and the request.
    draws = [gateway_times_out(server.seed, f"/3/movie/{n}", 1) for n in range(2000)]
    assert 0.5 * GATEWAY_TIMEOUTS < sum(draws) / len(draws) < 2 * GATEWAY_TIMEOUTS
    assert draws == [gateway_times_out(server.seed, f"/3/movie/{n}", 1) for n in range(2000)]


def test_a_missing_key_is_a_reason_that_says_what_to_do(
    server: MediaServer, tmp_path: Path
) -> None:
    tmdb = server.metadata_source()
    assert tmdb.key_is_set() is True
    (tmp_path / KEY_FILE).unlink()
    reason = tmdb.key_is_set()
    assert isinstance(reason, str)
    assert f"no TMDb API key: {tmp_path / KEY_FILE} is missing or empty" in reason
    assert "restart the demo" in reason
    (tmp_path / KEY_FILE).write_text("\n")
    assert tmdb.key_is_set() == reason
    with pytest.raises(TmdbError, match="no TMDb API key in"):  # removed during a run
        run(metadata.enrich_metadata, server)


def test_a_wrong_key_is_refused_naming_the_key_file(server: MediaServer, tmp_path: Path) -> None:
    (tmp_path / KEY_FILE).write_text("not-the-demo-s-key-at-all\n")
    with pytest.raises(TmdbError, match=r"refused the API key in .*tmdb-key \(401\)"):
        run(metadata.enrich_metadata, server)


def test_past_the_apis_limit_a_429_is_a_retry_after_it(
    server: MediaServer, clock: FakeClock, tmp_path: Path
) -> None:
    key = (tmp_path / KEY_FILE).read_text().strip()
    with FakeTmdb(server.library, key, clock, capacity=1, outages=False) as strict:
        tmdb = Tmdb(strict.url, tmp_path / KEY_FILE)
        assert tmdb.movie(context("enrich-metadata"), 10_007) is not None
        with pytest.raises(Retry) as retry:
            tmdb.movie(context("enrich-metadata"), 10_007)
    assert retry.value.after is not None
    assert retry.value.after.total_seconds() == 10


def test_a_429_at_the_edge_of_the_apis_window_is_waited_out_in_the_run(
    server: MediaServer, clock: FakeClock, tmp_path: Path
) -> None:
    key = (tmp_path / KEY_FILE).read_text().strip()
    waited: list[float] = []

    def pause(seconds: float) -> None:  # the fake clock's time, not the test's
        waited.append(seconds)
        clock.advance(seconds)

    with FakeTmdb(server.library, key, clock, capacity=1, outages=False) as strict:
        tmdb = Tmdb(strict.url, tmp_path / KEY_FILE, pause=pause)
        assert tmdb.movie(context("enrich-metadata"), 10_007) is not None
        clock.advance(9.5)  # the first request counts for half a second more
        ctx = context("enrich-metadata")
        assert tmdb.movie(ctx, 10_014) is not None
        assert [a.status for a in strict.answers()] == [200, 429, 200]
    assert waited == [1.0]
    assert "TMDb: 429 at the edge of its window for /3/movie/10014: again in 1 s" in log(ctx)


def test_fetch_artwork_keeps_the_poster(server: MediaServer, api: FakeTmdb) -> None:
    ctx = run(metadata.fetch_artwork, server, title_id=3)
    with server.library.connect() as db:
        image, title = db.execute(
            "SELECT a.image, t.title FROM artwork a JOIN titles t ON t.id = a.title_id"
        ).fetchone()
    assert image.startswith(b"<svg")
    assert title.encode() in image
    assert progress(ctx) == (1, 1, title)
    assert f"fetched the poster of {title} (" in log(ctx)
    assert [answer.path for answer in api.answers()] == [f"/3/movie/{10_000 + 7 * 3}/poster"]
    # Spawned again (a scan asked while this run was ending): nothing to fetch.
    kept = run(metadata.fetch_artwork, server, title_id=3)
    assert f"{title} has its poster already (fetched " in log(kept)
    assert len(api.answers()) == 1
    again = run(metadata.fetch_artwork, server, title_id=3, refetch=True)
    assert f"fetched the poster of {title} again" in log(again)
    assert len(api.answers()) == 2


def test_fetch_artwork_skips_a_title_tmdb_has_not_matched(server: MediaServer) -> None:
    with server.library.connect() as db:
        unmatched = db.execute("SELECT id FROM titles WHERE tmdb_id IS NULL").fetchone()[0]
    with pytest.raises(Skip, match="has no TMDb id yet: enrich-metadata finds it"):
        run(metadata.fetch_artwork, server, title_id=unmatched)
    with pytest.raises(Skip, match="the library has no title 9999"):
        run(metadata.fetch_artwork, server, title_id=9999)


def test_library_scan_asks_for_the_artwork_of_matched_titles_without_it(
    server: MediaServer,
) -> None:
    query = "SELECT id FROM titles WHERE state = 'present' AND tmdb_id IS NOT NULL ORDER BY id"
    with server.library.connect() as db:
        matched = [row[0] for row in db.execute(query)]
    scan = run(media.library_scan, server)
    assert scan.spawned == [
        ("fetch-artwork", f"title:{title_id}", {"title_id": title_id}) for title_id in matched
    ]
    assert f"asked for the posters of {len(matched)} titles" in log(scan)
    run(metadata.fetch_artwork, server, title_id=matched[0])
    again = run(media.library_scan, server)
    assert [args["title_id"] for _, _, args in again.spawned] == matched[1:]
