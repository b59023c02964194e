"""Retention is checked where it is made, so a bad value fails at the job's registration."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from rota import Rota
from rota.errors import SettingError
from rota.store import Retention


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"keep_last": -5}, "retention keep_last"),
        ({"keep_last": 2.5}, "retention keep_last"),
        ({"keep_last": True}, "retention keep_last"),
        ({"keep_last": "10"}, "retention keep_last"),
        ({"keep_last": 2**63}, "retention keep_last"),
        ({"fast_failures": -1}, "retention fast_failures"),
        ({"fast_failures": False}, "retention fast_failures"),
        ({"failed_for": -timedelta(days=1)}, "retention failed_for"),
        ({"failed_for": 30}, "retention failed_for"),
        ({"failed_for": timedelta.max}, "retention failed_for"),
        ({"succeeded_for": -timedelta(seconds=1)}, "retention succeeded_for"),
        ({"succeeded_for": "7d"}, "retention succeeded_for"),
        ({"fast": 1}, "retention fast"),
        ({"fast": "yes"}, "retention fast"),
    ],
)
def test_a_bad_field_is_refused_at_construction(fields: dict[str, Any], field: str) -> None:
    with pytest.raises(SettingError, match=rf"^{field}: ") as raised:
        Retention(**fields)
    assert raised.value.field == field
    assert raised.value.value == repr(next(iter(fields.values())))


def test_zero_keeps_nothing_beyond_the_newest_and_is_allowed() -> None:
    retention = Retention(keep_last=0, failed_for=timedelta(0), succeeded_for=timedelta(0))
    assert retention.keep_last == 0


def test_a_job_with_a_bad_retention_is_refused_at_registration() -> None:
    rota = Rota("memory://retention-registration", timezone="UTC")
    with pytest.raises(SettingError, match="retention keep_last: -5"):
        rota.job("sync", retention=Retention(keep_last=-5))
    with pytest.raises(SettingError, match=r"^retention: "):
        rota.job("sync", retention={"keep_for": 5})  # type: ignore[arg-type]
    with pytest.raises(SettingError, match=r"^retention: "):
        rota.job("sync", retention="forever")  # type: ignore[arg-type]
    # Its JSON form, as an admin's override gives it, is the same setting.
    rota.job("sync", retention={"keep_last": 5})  # type: ignore[arg-type]
