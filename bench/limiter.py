"""What one acquisition of a shared limiter costs (``with ctx.limit(...)``), on SQLite and
PostgreSQL, beside the store round trip a grant takes (decision 0012).

    .venv/bin/python bench/limiter.py            # full run (about half a minute)
    .venv/bin/python bench/limiter.py --quick    # smoke test: a few thousand acquisitions
    ROTA_BENCH_POSTGRES=postgresql+psycopg://postgres@127.0.0.1:5432/test .venv/bin/python ...

A sync job and an async job each make N acquisitions of one token on a limiter too large to make
them wait (10^9 a second), on the real clock, timing the whole loop; the cost per acquisition is
that time over N, grants included. "Grants" counts the store transactions the node made for them.
The last table times `Store.take_tokens` alone: what every acquisition would cost if each were a
store round trip. PostgreSQL runs in a schema of its own, dropped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT / "src") not in sys.path:
    sys.path.insert(0, str(ROOT / "src"))

from rota import Rota, RunContext  # noqa: E402
from rota.store.limits import TokenRequest  # noqa: E402
from rota.store.sql import SqlStore  # noqa: E402

POSTGRES = os.environ.get(
    "ROTA_BENCH_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


@contextmanager
def stores() -> Iterator[list[tuple[str, str]]]:
    """(name, url) of a fresh SQLite file and a fresh PostgreSQL schema."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    schema = f"rota_bench_{secrets.token_hex(4)}"
    given = make_url(POSTGRES)
    if given.drivername == "postgresql":  # as ROTA_TEST_DATABASE_URL may spell it
        given = given.set(drivername="postgresql+psycopg")
    server = create_engine(given, isolation_level="AUTOCOMMIT")
    with server.connect() as connection:
        connection.execute(text(f"CREATE SCHEMA {schema}"))
    url = given.update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        with tempfile.TemporaryDirectory() as directory:
            yield [
                ("SQLite", f"sqlite:///{directory}/rota.db"),
                ("PostgreSQL", url.render_as_string(hide_password=False)),
            ]
    finally:
        with server.connect() as connection:
            connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        server.dispose()


async def acquisitions(url: str, count: int, kind: str) -> tuple[float, int]:
    """Seconds for `count` acquisitions in one run of a `kind` ("sync"/"async") job, and how
    many grants the node asked the store for."""
    rota = Rota(url, timezone="UTC")
    rota.limiter("bench", 10**9, per="1s")
    took: list[float] = []

    if kind == "sync":

        def job(ctx: RunContext) -> None:
            start = time.perf_counter()
            for _ in range(count):
                with ctx.limit("bench"):
                    pass
            took.append(time.perf_counter() - start)

    else:

        async def job(ctx: RunContext) -> None:  # type: ignore[misc]
            start = time.perf_counter()
            for _ in range(count):
                async with ctx.limit("bench"):
                    pass
            took.append(time.perf_counter() - start)

    rota.job(f"bench-{kind}")(job)
    await rota.start_async()
    try:
        await rota.wait_async(rota.run_now(f"bench-{kind}"), timeout=600)
        engine = rota.engine
        assert engine is not None
        assert engine.limiters is not None
        return took[0], engine.limiters.requests
    finally:
        await rota.stop_async(grace=0)


def round_trips(url: str, count: int) -> list[float]:
    """Microseconds of each of `count` `take_tokens` calls of one token, each a millisecond
    after the one before on a limiter of 1 a millisecond: the row holds one grant, as a
    limiter that nodes draw on now and then does."""
    store = SqlStore(url)
    store.open()
    try:
        at = datetime.now(UTC)
        timings = []
        for i in range(count):
            request = TokenRequest(
                "round-trip",
                1,
                timedelta(milliseconds=1),
                at + timedelta(milliseconds=i),
                1,
                1,
                timedelta(0),
            )
            start = time.perf_counter()
            taken = store.take_tokens(request)
            timings.append((time.perf_counter() - start) * 1e6)
            assert taken.grant is not None
        return timings
    finally:
        store.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    options = parser.parse_args()
    count = 5_000 if options.quick else 100_000
    trips = 200 if options.quick else 2_000
    print(f"{count:,} acquisitions per run; {trips:,} round trips per store\n")
    print("| store | job | per acquisition | grants (store transactions) |")
    print("|---|---|---|---|")
    with stores() as urls:
        rows = []
        for name, url in urls:
            for kind in ("sync", "async"):
                seconds, grants = asyncio.run(acquisitions(url, count, kind))
                print(f"| {name} | {kind} | {seconds / count * 1e6:.2f} us | {grants} |")
            rows.append((name, round_trips(url, trips)))
        print("\n| store | one `take_tokens` round trip, median | p90 |")
        print("|---|---|---|")
        for name, timings in rows:
            p90 = statistics.quantiles(timings, n=10)[-1]
            print(f"| {name} | {statistics.median(timings):.0f} us | {p90:.0f} us |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
