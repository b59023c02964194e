"""How the demo's jobs call TMDb: over HTTP, with the API key from the demo's key file, each
request inside ``with ctx.limit("tmdb")`` (the shared limiter the app declares: 40 per 10 s, the
API's own limit), and TMDb's answers turned into what rota understands: a 429 is a `Retry` after
its ``Retry-After`` (one at the edge of the API's window, a second or two, is waited out in
the run), a gateway that gives up is a `MetadataTimeout` (the job's retry policy
takes over), a refused key is a `TmdbError` naming the key file."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

from rota.engine.context import RunContext
from rota.outcomes import Retry

__all__ = ["KEY_FILE", "LIMITER", "MetadataTimeout", "Tmdb", "TmdbError"]

LIMITER = "tmdb"
KEY_FILE = "tmdb-key"
# The limiter counts a request when its token is taken, the API when the request arrives: at the
# edge of a full window, one that travelled slower than the next can still count there, and the
# API answers 429 with "come back in a second". Such a request is sent again, under a new token.
EDGE_WAIT = 2
EDGE_TRIES = 3


class TmdbError(Exception):
    """TMDb refused a request (its key, or a request it does not understand)."""


class MetadataTimeout(ConnectionError):
    """TMDb did not answer (its gateway gave up, or no answer in time): a retry fixes it."""


@dataclass(frozen=True)
class Tmdb:
    """TMDb at `url`, called with the key kept in `key_file`."""

    url: str
    key_file: Path
    timeout: float = 10.0
    pause: Callable[[float], None] = time.sleep  # waits out a 429 at a window's edge

    def key_is_set(self) -> bool | str:
        """enrich-metadata's prerequisite: True if the key file has a key, else what to do."""
        if self._key() is not None:
            return True
        return (
            f"no TMDb API key: {self.key_file} is missing or empty. The demo writes its key "
            "there when it starts: restart the demo (a real app asks for the key in its settings)"
        )

    def search(self, ctx: RunContext, title: str, year: int) -> dict[str, Any] | None:
        """TMDb's details of the title of that name and year, or None if it knows none."""
        body = self._get(ctx, "/3/search/movie", {"query": title, "year": str(year)})
        results = [] if body is None else json.loads(body)["results"]
        return next((r for r in results if r["title"] == title), None)

    def movie(self, ctx: RunContext, tmdb_id: int) -> dict[str, Any] | None:
        """TMDb's details of a title, or None if it does not know the id."""
        body = self._get(ctx, f"/3/movie/{tmdb_id}")
        return None if body is None else dict(json.loads(body))

    def poster(self, ctx: RunContext, tmdb_id: int) -> bytes | None:
        """A title's poster (SVG), or None if TMDb has none."""
        return self._get(ctx, f"/3/movie/{tmdb_id}/poster")

    def _key(self) -> str | None:
        try:
            key = self.key_file.read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            return None
        return key or None

    def _get(self, ctx: RunContext, path: str, query: dict[str, str] | None = None) -> bytes | None:
        """One request, under the limiter: the body, or None for a 404."""
        key = self._key()
        if key is None:  # removed since the run's prerequisite was checked
            raise TmdbError(f"no TMDb API key in {self.key_file}")
        address = self.url + path + ("?" + urllib.parse.urlencode(query) if query else "")
        request = urllib.request.Request(
            address, headers={"Authorization": f"Bearer {key}", "Accept": "application/json"}
        )
        for attempt in range(1, EDGE_TRIES + 1):
            with ctx.limit(LIMITER):
                try:
                    with urllib.request.urlopen(request, timeout=self.timeout) as response:
                        return bytes(response.read())
                except urllib.error.HTTPError as error:
                    with error:
                        if error.code == 404:
                            return None
                        wait = _edge_wait(error)
                        if wait is None or attempt == EDGE_TRIES:
                            _refused(error, path, self.key_file)
                except (urllib.error.URLError, TimeoutError, ConnectionError) as error:
                    reason = getattr(error, "reason", error)
                    raise MetadataTimeout(f"TMDb did not answer ({reason})") from None
            ctx.log.info("TMDb: 429 at the edge of its window for %s: again in %g s", path, wait)
            self.pause(wait)
            if ctx.cancelled:
                raise MetadataTimeout("stopped while waiting for TMDb's window")
        raise AssertionError("unreachable: the last try returns or raises")


def _edge_wait(error: urllib.error.HTTPError) -> float | None:
    """For a 429 that says to come back within `EDGE_WAIT`: how long to wait (else None)."""
    wait = error.headers.get("Retry-After", "") if error.code == 429 else ""
    return float(wait) if wait.isdigit() and int(wait) <= EDGE_WAIT else None


def _refused(error: urllib.error.HTTPError, path: str, key_file: Path) -> NoReturn:
    """What an error status other than 404 means to the job."""
    status = error.code
    if status == 429:  # the limiter keeps the demo under TMDb's limit; another client may not
        wait = error.headers.get("Retry-After", "10")
        raise Retry(after=float(wait) if wait.isdigit() else 10.0)
    if status >= 500:
        raise MetadataTimeout(f"TMDb's gateway gave up ({status} {error.reason})")
    if status == 401:
        raise TmdbError(
            f"TMDb refused the API key in {key_file} (401): remove the file and restart the "
            "demo, which writes the key its TMDb knows"
        )
    raise TmdbError(f"TMDb refused {path} ({status} {error.reason})")
