"""The one shape every backend answers in: the JSON of the REST API (`rota.service.schemas`),
as plain dicts. The local backend builds it from rota's records with `rota.admin.shapes`, as the
service does; the remote one gets it from the service and only brings its times to the same
spelling. So the CLI prints the same whichever
way it reaches the store, and ``--json`` output is the API's."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from rota.admin.shapes import Json, event_json, job_json, limiter_json, run_json

__all__ = [
    "TIME_KEYS",
    "Json",
    "event_json",
    "job_json",
    "limiter_json",
    "normal_times",
    "parse_time",
    "run_json",
]

TIME_KEYS = frozenset(
    {
        "at",
        "fire_time",
        "queued_at",
        "not_before",
        "started_at",
        "finished_at",
        "next_fire_at",
        "next_fire_times",
        "next_refill",
    }
)
"""The keys whose values are times (or lists of times) in the API's JSON."""


def _time(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).isoformat()


def parse_time(text: str) -> datetime:
    """An ISO 8601 time of the API's (``Z`` or an offset) as an aware datetime in UTC."""
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


OPAQUE_KEYS = frozenset({"args", "data", "defaults", "overrides", "schedule", "settings"})
"""Keys whose values are the user's or a setting's JSON: left as they are."""


def normal_times(value: Any, key: str | None = None) -> Any:
    """`value` with every time under `TIME_KEYS` spelled as `_time` spells it."""
    if isinstance(value, dict):
        return {k: v if k in OPAQUE_KEYS else normal_times(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [normal_times(v, key) for v in value]
    if key in TIME_KEYS and isinstance(value, str):
        return _time(parse_time(value))
    return value
