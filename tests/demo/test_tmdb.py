"""The local TMDb over real HTTP on a free port: its key, its own limit of 40 requests per 10 s
(by the fake clock it is given), its answers, and its port freed when it is closed."""

from __future__ import annotations

import json
import socket
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from rota.demo.library import Library
from rota.demo.sources import invented_details
from rota.demo.tmdb import FakeTmdb
from rota.testing import FakeClock

KEY = "the-demo-s-key-for-these-tests"


def get(api: FakeTmdb, path: str, key: str | None = KEY) -> tuple[int, dict[str, str], bytes]:
    """One request (a socket timeout, not a sleep, bounds it): status, headers, body."""
    headers = {} if key is None else {"Authorization": f"Bearer {key}"}
    request = urllib.request.Request(api.url + path, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=20) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, dict(error.headers), error.read()


@pytest.fixture
def api(library: Library, clock: FakeClock) -> Iterator[FakeTmdb]:
    with FakeTmdb(library, KEY, clock, outages=False) as served:
        yield served


def test_40_requests_per_10_s_pass_and_the_41st_is_told_when_to_come_back(
    api: FakeTmdb, clock: FakeClock
) -> None:
    assert api.url.startswith("http://127.0.0.1:")
    for _ in range(40):
        assert get(api, "/3/movie/10007")[0] == 200
    status, headers, body = get(api, "/3/movie/10007")
    assert status == 429
    assert headers["Retry-After"] == "10"
    assert json.loads(body)["status_code"] == 25
    assert "over the allowed limit of 40" in json.loads(body)["status_message"]
    clock.advance(6)
    status, headers, _ = get(api, "/3/movie/10014")
    assert (status, headers["Retry-After"]) == (429, "4")
    clock.advance(4)  # the first 40 stop counting: a window of 10 s is free again
    assert get(api, "/3/movie/10014")[0] == 200
    assert api.in_window() == 1
    # Its own count: what it answered, and that it never let more than 40 through in 10 s.
    assert [a.status for a in api.answers()].count(429) == 2
    assert api.most_in_a_window() == 40


def test_a_request_without_the_key_is_refused_and_not_counted(api: FakeTmdb) -> None:
    for key in (None, "someone-else-s-key"):
        status, _, body = get(api, "/3/movie/10007", key=key)
        assert status == 401
        assert json.loads(body)["status_message"].startswith("Invalid API key")
    assert api.in_window() == 0


def test_search_details_and_poster_of_the_librarys_titles(api: FakeTmdb, library: Library) -> None:
    with library.connect() as db:
        title, year = db.execute("SELECT title, year FROM titles WHERE id = 5").fetchone()
    status, _, body = get(api, f"/3/search/movie?query={title.replace(' ', '+')}&year={year}")
    found = [r for r in json.loads(body)["results"] if r["id"] == 10_035]
    assert status == 200
    assert found
    assert found[0]["title"] == title
    assert found[0]["overview"] == invented_details(library.seed, 5).overview
    status, _, body = get(api, "/3/movie/10035")
    assert (status, json.loads(body)["title"]) == (200, title)
    status, headers, body = get(api, "/3/movie/10035/poster")
    assert (status, headers["Content-Type"]) == (200, "image/svg+xml")
    assert body.startswith(b"<svg")
    assert title.encode() in body
    assert get(api, "/3/movie/10036")[0] == 404  # not an id of a title
    assert get(api, "/3/tv/10035")[0] == 404


def test_the_gateway_gives_up_on_the_same_requests_each_time(
    library: Library, clock: FakeClock
) -> None:
    def statuses() -> list[int]:
        with FakeTmdb(library, KEY, clock, capacity=1000) as api:
            return [get(api, f"/3/movie/{10_000 + 7 * n}")[0] for n in range(1, 41)]

    first = statuses()
    assert set(first) == {200, 504}  # now and then, not never
    assert statuses() == first


def test_closing_frees_the_port(library: Library, clock: FakeClock, tmp_path: Path) -> None:
    api = FakeTmdb(library, KEY, clock)
    port = int(api.url.rsplit(":", 1)[1])
    api.close()
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind(("127.0.0.1", port))  # the port is free again
