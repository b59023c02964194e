"""``rota limiters``: each limiter's capacity, period, tokens in use and next refill, on the
store and through the service (the API's ``GET /api/limiters``)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from rota.cli.limiters import limiters_table
from tests.cli.conftest import ADMIN, Run, Served, invoke
from tests.cli.test_show import _text

NOW = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)


def _drawn(rota_cli: Run) -> None:
    """A run of fan-out that drew 2 tokens per item from tmdb (they count for 10 s after)."""
    result = rota_cli("jobs", "run", "fan-out", "items=2", "--follow")
    assert result.exit_code == 0, result.output


def test_limiters_lists_each_with_its_capacity_period_and_use(rota_cli: Run) -> None:
    _drawn(rota_cli)
    result = rota_cli("limiters")
    assert result.exit_code == 0, result.output
    header, _, *rows = result.stdout.splitlines()
    assert header.split() == ["limiter", "capacity", "period", "in", "use", "next", "refill",
                              "max", "wait"]  # fmt: skip
    (row,) = [line for line in rows if line.startswith("tmdb ")]
    assert int(row.split()[4]) >= 4  # 2 tokens for each of the 2 items, for 10 s
    assert re.match(
        r"tmdb\s+40\s+10 s\s+\d+\s+(in [\d.]+ s|now)\s+(1 min|- \(not in this code\))$", row
    ), row
    listed = json.loads(rota_cli("limiters", "--json").stdout)
    (tmdb,) = [limiter for limiter in listed if limiter["name"] == "tmdb"]
    assert (tmdb["capacity"], tmdb["period_seconds"]) == (40, 10.0)
    assert set(tmdb) == {
        "name",
        "capacity",
        "period_seconds",
        "in_use",
        "next_refill",
        "max_wait_seconds",
        "declared",
    }


def test_both_ways_show_the_same_limiter(served: Served) -> None:
    local = {"ROTA_DATABASE_URL": served.url}
    remote = {"ROTA_URL": served.server.url, "ROTA_TOKEN": ADMIN}
    invoke("jobs", "run", "fan-out", "--follow", env=local)
    here, there = (
        json.loads(invoke("limiters", "--json", env=env).stdout) for env in (local, remote)
    )
    stable = ("name", "capacity", "period_seconds")
    assert [[limiter[k] for k in stable] for limiter in here] == [
        [limiter[k] for k in stable] for limiter in there
    ]
    # Only the serving process's code declares it (with its max wait); the store alone knows
    # its limit, not how long runs wait.
    declared = {
        name: [(lim["declared"], lim["max_wait_seconds"]) for lim in found if lim["name"] == "tmdb"]
        for name, found in (("here", here), ("there", there))
    }
    assert declared == {"here": [(False, None)], "there": [(True, 60.0)]}


def test_the_table_words_use_refill_and_a_limiter_the_code_does_not_declare() -> None:
    limiter: dict[str, Any] = {
        "name": "tmdb",
        "capacity": 40,
        "period_seconds": 10.0,
        "in_use": 12,
        "next_refill": (NOW + timedelta(seconds=4)).isoformat(),
        "max_wait_seconds": 60.0,
        "declared": True,
    }
    idle = {**limiter, "name": "old", "in_use": 0, "next_refill": None}
    gone = {**idle, "name": "zzz", "declared": False, "max_wait_seconds": None}
    text = _text(limiters_table([limiter, idle, gone], NOW))
    rows = {line.split()[0]: line for line in text.splitlines()[2:]}
    assert re.search(r"tmdb\s+40\s+10 s\s+12\s+in 4 s\s+1 min$", rows["tmdb"].rstrip())
    assert re.search(r"old\s+40\s+10 s\s+0\s+-\s+1 min$", rows["old"].rstrip())
    assert re.search(r"zzz\s+40\s+10 s\s+0\s+-\s+- \(not in this code\)$", rows["zzz"].rstrip())


def test_no_limiters_is_said(tmp_path: Any) -> None:
    url = f"sqlite:///{tmp_path}/empty.db"
    assert invoke("db", "upgrade", "--database-url", url).exit_code == 0
    result = invoke("limiters", env={"ROTA_DATABASE_URL": url})
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("no limiters in sqlite:///")
