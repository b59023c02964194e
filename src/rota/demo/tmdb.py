"""A small local TMDb: the metadata service the demo's jobs call over HTTP, served by a thread on
127.0.0.1 (a free port) while the demo runs.

It is TMDb as far as the demo needs it, with TMDb's own rules: every request carries the API key
(``Authorization: Bearer <key>``, else 401), at most `capacity` requests per `period` (40 per
10 s, TMDb's old limit; past it, 429 with ``Retry-After``), and now and then its gateway gives up
(504), drawn from the library's seed and the request (the failure a retry policy fixes). It keeps
its own count of what it answered, so that a test can show the demo's limiter kept the jobs
within its limit. Its catalogue is the sample library's titles.

- ``GET /3/search/movie?query=TITLE&year=YEAR``: the matching titles, with their details;
- ``GET /3/movie/ID``: a title's details (its rating drifts a little between requests);
- ``GET /3/movie/ID/poster``: the title's poster, a small SVG (real TMDb names the files in
  ``/images`` and serves them from its image host: one request here).
"""

from __future__ import annotations

import contextlib
import json
import re
import sqlite3
import threading
from collections import Counter, deque
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit
from xml.sax.saxutils import escape

from rota.clock import Clock
from rota.demo.library import Library
from rota.demo.sources import gateway_times_out, invented_details, poster_colours

__all__ = ["CAPACITY", "KEPT_ANSWERS", "PERIOD", "Answer", "FakeTmdb"]

CAPACITY = 40
PERIOD = timedelta(seconds=10)
KEPT_ANSWERS = 10_000
_MOVIE = re.compile(r"^/3/movie/(\d+)(/poster)?$")


class Answer:
    """What the fake API answered one request: when (by its clock), the path and the status."""

    __slots__ = ("at", "path", "status")

    def __init__(self, at: datetime, path: str, status: int) -> None:
        self.at, self.path, self.status = at, path, status

    def __repr__(self) -> str:
        return f"Answer({self.at.isoformat()}, {self.path!r}, {self.status})"


class FakeTmdb:
    """The fake TMDb API for `library`, accepting `key`, counting by `clock`. Serves from
    construction until `close` (also a context manager); `url` is its base address."""

    def __init__(
        self,
        library: Library,
        key: str,
        clock: Clock,
        *,
        capacity: int = CAPACITY,
        period: timedelta = PERIOD,
        outages: bool = True,
    ) -> None:
        self.library, self.key, self.clock = library, key, clock
        self.capacity, self.period, self.outages = capacity, period, outages
        self._lock = threading.Lock()
        self._window: deque[datetime] = deque()  # the requests counted against the limit
        self._answers: deque[Answer] = deque(maxlen=KEPT_ANSWERS)
        self._asked: Counter[str] = Counter()  # per path: how often it was asked
        self._catalogue = _catalogue(library)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="rota-demo-tmdb", daemon=True
        )
        self._thread.start()

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def close(self) -> None:
        """Stop serving and free the port (in-flight answers are finished first)."""
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join()
        self._server.server_close()

    def __enter__(self) -> FakeTmdb:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def answers(self) -> list[Answer]:
        """What it answered, oldest first (the newest `KEPT_ANSWERS`: a demo runs for days)."""
        with self._lock:
            return list(self._answers)

    def most_in_a_window(self) -> int:
        """The most requests it let through (any status but 429) in any window of its period."""
        times = sorted(a.at for a in self.answers() if a.status != 429)
        most, start = 0, 0
        for end, at in enumerate(times):
            while times[start] <= at - self.period:
                start += 1
            most = max(most, end - start + 1)
        return most

    def in_window(self) -> int:
        """How many requests count against the limit now."""
        with self._lock:
            self._expire(self.clock.now())
            return len(self._window)

    # -- answering (on the server's threads) --------------------------------------------------

    def answer(self, path: str, query: dict[str, list[str]], key: str | None) -> _Reply:
        now = self.clock.now()
        if key != self.key:
            return self._record(
                now, path, _error(401, 7, "Invalid API key: You must be granted a valid key.")
            )
        with self._lock:
            self._expire(now)
            if len(self._window) >= self.capacity:
                wait = self._window[0] + self.period - now
                reply = _error(
                    429,
                    25,
                    f"Your request count ({len(self._window) + 1}) is over the allowed limit "
                    f"of {self.capacity}.",
                    {"Retry-After": str(max(1, int(wait.total_seconds() + 0.999)))},
                )
                self._answers.append(Answer(now, path, 429))
                return reply
            self._window.append(now)
            self._asked[path] += 1
            asked = self._asked[path]
        if self.outages and gateway_times_out(self.library.seed, path, asked):
            return self._record(now, path, _error(504, 0, "Gateway Timeout"))
        return self._record(now, path, self._found(path, query, asked))

    def _found(self, path: str, query: dict[str, list[str]], asked: int) -> _Reply:
        if path == "/3/search/movie":
            title = (query.get("query") or [""])[0]
            year = (query.get("year") or [""])[0]
            results = [
                self._details(title_id, asked)
                for title_id, (name, made) in self._catalogue.items()
                if name == title and (not year or str(made) == year)
            ]
            return _json(200, {"page": 1, "results": results, "total_results": len(results)})
        match = _MOVIE.match(path)
        title_id = _title_id(int(match.group(1))) if match else None
        if match is None or title_id not in self._catalogue:
            return _error(404, 34, "The resource you requested could not be found.")
        if match.group(2):
            return 200, {"Content-Type": "image/svg+xml"}, self._poster(title_id)
        return _json(200, self._details(title_id, asked))

    def _details(self, title_id: int, refresh: int) -> dict[str, Any]:
        details = invented_details(self.library.seed, title_id, refresh)
        name, year = self._catalogue[title_id]
        return {
            "id": details.tmdb_id,
            "title": name,
            "release_date": f"{year}-01-01",
            "overview": details.overview,
            "vote_average": details.rating,
        }

    def _poster(self, title_id: int) -> bytes:
        name, year = self._catalogue[title_id]
        back, front = poster_colours(self.library.seed, title_id)
        return (
            '<svg xmlns="http://www.w3.org/2000/svg" width="200" height="300">'
            f'<rect width="200" height="300" fill="{back}"/>'
            f'<circle cx="100" cy="120" r="60" fill="{front}"/>'
            f'<text x="100" y="240" font-size="16" text-anchor="middle" fill="white">'
            f"{escape(name)}</text>"
            f'<text x="100" y="265" font-size="12" text-anchor="middle" fill="white">{year}</text>'
            "</svg>"
        ).encode()

    def _record(self, now: datetime, path: str, reply: _Reply) -> _Reply:
        with self._lock:
            self._answers.append(Answer(now, path, reply[0]))
        return reply

    def _expire(self, now: datetime) -> None:
        while self._window and self._window[0] <= now - self.period:
            self._window.popleft()


_Reply = tuple[int, dict[str, str], bytes]


def _json(status: int, body: object, headers: dict[str, str] | None = None) -> _Reply:
    return (
        status,
        {"Content-Type": "application/json", **(headers or {})},
        json.dumps(body).encode(),
    )


def _error(status: int, code: int, message: str, headers: dict[str, str] | None = None) -> _Reply:
    body = {"success": False, "status_code": code, "status_message": message}
    return _json(status, body, headers)


def _title_id(tmdb_id: int) -> int | None:
    """The library's title of a TMDb id (ids are 10,000 + 7 times the title's id)."""
    index, rest = divmod(tmdb_id - 10_000, 7)
    return index if rest == 0 and index > 0 else None


def _catalogue(library: Library) -> dict[int, tuple[str, int]]:
    """Every title TMDb knows: the sample library's, owned or not."""
    with contextlib.closing(sqlite3.connect(library.path, timeout=30)) as db:
        return {
            row[0]: (row[1], row[2]) for row in db.execute("SELECT id, title, year FROM titles")
        }


def _handler(api: FakeTmdb) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:  # http.server's name
            parts = urlsplit(self.path)
            auth = self.headers.get("Authorization", "")
            key = auth.removeprefix("Bearer ").strip() if auth.startswith("Bearer ") else None
            status, headers, body = api.answer(parts.path, parse_qs(parts.query), key)
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # the demo's terminal shows its banner, not an access log

    return Handler
