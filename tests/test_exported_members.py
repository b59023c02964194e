"""The public surface is deliberate: what `rota` exports is listed here on purpose."""

from __future__ import annotations

import rota
import rota.schedules


def test_rota_exports() -> None:
    assert sorted(rota.__all__) == sorted(
        [
            "After",
            "ConflictError",
            "Cron",
            "Daily",
            "EventKind",
            "EventRecord",
            "Interval",
            "JobInfo",
            "JobKind",
            "LimiterInfo",
            "LimiterSpec",
            "LimiterWait",
            "Manual",
            "Once",
            "Preview",
            "Reason",
            "Retention",
            "Retry",
            "Rota",
            "RotaError",
            "RunContext",
            "RunInfo",
            "RunPage",
            "RunRecord",
            "RunStatus",
            "Schedule",
            "ScheduleError",
            "SettingError",
            "Skip",
            "StoreError",
            "UnknownJobError",
            "UnknownRunError",
            "Weekly",
            "after",
            "asgi",
            "cron",
            "daily",
            "every",
            "manual",
            "once",
            "parse",
            "preview",
            "weekly",
        ]
    )
    for name in rota.__all__:
        member = getattr(rota, name)
        assert member.__doc__, f"rota.{name} has no docstring"


def test_schedules_exports_are_documented() -> None:
    for name in rota.schedules.__all__:
        assert getattr(rota.schedules, name).__doc__, f"rota.schedules.{name} has no docstring"
