"""Jobs as the engine knows them: the code's definition, and its live state."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import Any

from rota.engine.policies import Overlap
from rota.engine.settings import JobSettings
from rota.errors import SettingError
from rota.names import job_name_problem
from rota.store.records import JobRecord

__all__ = ["JobDefinition", "JobState", "effective_settings"]


@dataclass(frozen=True)
class JobDefinition:
    """A job as code defines it: a name, a function, and default settings."""

    name: str
    function: Callable[..., Any]
    settings: JobSettings
    is_async: bool
    takes_ctx: bool
    builtin: bool = False

    @classmethod
    def create(
        cls,
        name: str,
        function: Callable[..., Any],
        settings: JobSettings,
        *,
        builtin: bool = False,
    ) -> JobDefinition:
        """Check the name and the function's signature; a job takes ``ctx`` or nothing, plus the
        keyword arguments a run is given."""
        if (problem := job_name_problem(name)) is not None:
            raise SettingError("job name", str(name), problem)
        if not callable(function):
            raise SettingError("job", name, f"{function!r} is not callable")
        parameters = list(inspect.signature(function).parameters.values())
        takes_ctx = bool(parameters) and parameters[0].name == "ctx"
        return cls(
            name=name,
            function=function,
            settings=settings,
            is_async=inspect.iscoroutinefunction(function),
            takes_ctx=takes_ctx,
            builtin=builtin,
        )

    @cached_property
    def stored_defaults(self) -> dict[str, Any]:
        """The settings as the store keeps them (worked out once: every start compares them)."""
        return self.settings.to_json()


@dataclass(slots=True)
class JobState:
    """What the engine tracks of one job while it runs: settings, due time and active runs."""

    definition: JobDefinition
    settings: JobSettings
    paused: bool
    next_fire_at: datetime | None
    running: set[int] = field(default_factory=set)
    queued: set[int] = field(default_factory=set)

    @property
    def limit(self) -> int:
        """How many runs of this job may run at once."""
        return self.settings.max_concurrent if self.settings.overlap is Overlap.ALLOW else 1


def effective_settings(defaults: JobSettings, record: JobRecord | None) -> JobSettings:
    """The code's defaults with the admin's overrides laid over."""
    if record is None or not record.override:
        return defaults
    return defaults.with_json(record.override)
