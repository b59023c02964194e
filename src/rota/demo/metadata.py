"""The jobs that call TMDb: metadata enrichment (missing details, and a refresh of the stalest)
and the artwork fetch that library-scan spawns per title. Every request goes through the
shared `tmdb` limiter (`tmdb_client`); what was fetched before a failure is kept."""

from __future__ import annotations

from rota.demo.server import MediaServer
from rota.demo.sources import iso
from rota.demo.tmdb_client import MetadataTimeout
from rota.engine.context import RunContext
from rota.outcomes import Skip

__all__ = ["ARTWORK_JOB", "REFRESHED_PER_RUN", "enrich_metadata", "fetch_artwork"]

REFRESHED_PER_RUN = 15  # enrich-metadata refreshes this many of the stalest titles each run
ARTWORK_JOB = "fetch-artwork"


def enrich_metadata(ctx: RunContext, server: MediaServer) -> None:
    """Fetch missing metadata from TMDb and refresh the stalest, under the shared `tmdb`
    limiter (TMDb's gateway gives up now and then: the retry policy takes over)."""
    tmdb = server.metadata_source()
    with server.library.connect() as db:
        missing = db.execute(
            "SELECT id, title, year, tmdb_id FROM titles WHERE state = 'present'"
            " AND enriched_at IS NULL ORDER BY id"
        ).fetchall()
        stale = db.execute(
            "SELECT id, title, year, tmdb_id FROM titles WHERE state = 'present'"
            " AND enriched_at IS NOT NULL ORDER BY enriched_at, id LIMIT ?",
            (REFRESHED_PER_RUN,),
        ).fetchall()
        todo = [*missing, *stale]
        rated = unknown = 0
        for index, title in enumerate(todo, start=1):
            try:
                if title["tmdb_id"] is None:  # never matched: search by name and year
                    found = tmdb.search(ctx, title["title"], title["year"])
                else:
                    found = tmdb.movie(ctx, title["tmdb_id"])
            except MetadataTimeout as error:
                ctx.log.warning("TMDb: no answer for %r: %s", title["title"], error)
                raise MetadataTimeout(
                    f"{error} at {title['title']!r} ({index - 1} of {len(todo)} titles done; "
                    "they are kept)"
                ) from None
            if found is None:
                unknown += 1
                ctx.log.warning("TMDb does not know %r (%d)", title["title"], title["year"])
            else:
                rated += 1
                db.execute(
                    "UPDATE titles SET overview = ?, rating = ?, tmdb_id = ?, enriched_at = ?"
                    " WHERE id = ?",
                    (
                        found["overview"],
                        found["vote_average"],
                        found["id"],
                        iso(server.now()),
                        title["id"],
                    ),
                )
                db.commit()
            ctx.progress(index, len(todo), title["title"])
            server.work(ctx, 0.15)
    ctx.log.info(
        "enriched %d titles (%d were missing metadata, %d refreshed, %d unknown) on attempt %d",
        rated,
        len(missing),
        len(stale),
        unknown,
        ctx.run.attempt,
    )


def fetch_artwork(
    ctx: RunContext, server: MediaServer, title_id: int, refetch: bool = False
) -> None:
    """Fetch a title's poster from TMDb and keep it in the library (library-scan spawns one
    run per title that has none); a title that has one already is left as it is, unless
    `refetch`."""
    with server.library.connect() as db:
        title = db.execute(
            "SELECT t.title, t.tmdb_id, a.fetched_at FROM titles t"
            " LEFT JOIN artwork a ON a.title_id = t.id WHERE t.id = ?",
            (title_id,),
        ).fetchone()
    if title is None:
        raise Skip(f"the library has no title {title_id}")
    if title["fetched_at"] is not None and not refetch:
        # A scan asked while an earlier run of this title was finishing (the key is free
        # once that run has ended): nothing to fetch.
        ctx.log.info("%s has its poster already (fetched %s)", title["title"], title["fetched_at"])
        return
    if title["tmdb_id"] is None:
        raise Skip(f"{title['title']!r} has no TMDb id yet: enrich-metadata finds it")
    ctx.progress(0, 1, title["title"])
    image = server.metadata_source().poster(ctx, title["tmdb_id"])
    if image is None:
        raise Skip(f"TMDb has no poster for {title['title']!r}")
    server.work(ctx, 0.05)
    with server.library.connect() as db:
        db.execute(
            "INSERT INTO artwork (title_id, image, fetched_at) VALUES (?, ?, ?)"
            " ON CONFLICT (title_id) DO UPDATE SET image = excluded.image,"
            " fetched_at = excluded.fetched_at",
            (title_id, image, iso(server.now())),
        )
    ctx.progress(1, 1, title["title"])
    again = " again" if title["fetched_at"] is not None else ""
    ctx.log.info("fetched the poster of %s%s (%d bytes)", title["title"], again, len(image))
