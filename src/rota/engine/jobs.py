"""Jobs as the engine knows them: the code's definition, and its live state."""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import Any

from rota.engine.isolation import Isolation, check_isolable
from rota.engine.parameters import PARAMETERS, Parameters
from rota.engine.policies import Overlap
from rota.engine.settings import JobSettings
from rota.errors import SettingError
from rota.names import job_name_problem
from rota.schedules import After
from rota.store.records import JobKind, JobRecord

__all__ = [
    "JobDefinition",
    "JobState",
    "check_not_after_itself",
    "doc_description",
    "effective_settings",
    "import_path",
    "load_target",
]


def doc_description(function: Callable[..., Any]) -> str:
    """A job's description when code gives none: its docstring's first paragraph (the lines
    up to the first blank line), joined by single spaces; at most 2,000 characters."""
    lines: list[str] = []
    for line in (function.__doc__ or "").strip().splitlines():
        if not line.strip():
            break
        lines.append(line)
    text = " ".join(" ".join(lines).split())
    return text if len(text) <= 2000 else text[:1999] + "…"


@dataclass(frozen=True)
class JobDefinition:
    """A job as code defines it: a name, a function, and default settings."""

    name: str
    function: Callable[..., Any]
    settings: JobSettings
    is_async: bool
    takes_ctx: bool
    kind: JobKind = JobKind.CODE

    @classmethod
    def create(
        cls,
        name: str,
        function: Callable[..., Any],
        settings: JobSettings,
        *,
        kind: JobKind = JobKind.CODE,
    ) -> JobDefinition:
        """Check the name and the function's signature; a job takes ``ctx`` or nothing, plus the
        keyword arguments a run is given. A process-isolated job's function must be importable
        by its path (`isolation.isolation_problem`)."""
        if (problem := job_name_problem(name)) is not None:
            raise SettingError("job name", str(name), problem)
        if not callable(function):
            raise SettingError("job", name, f"{function!r} is not callable")
        if settings.isolation is Isolation.PROCESS:
            check_isolable(function)
        check_not_after_itself(name, settings)
        try:
            parameters = list(inspect.signature(function).parameters.values())
        except (TypeError, ValueError) as error:  # a builtin, a C function
            raise SettingError(
                "job", name, f"{function!r} has no signature rota can check: {error}"
            ) from None
        takes_ctx = bool(parameters) and parameters[0].name == "ctx"
        positional = [p for p in parameters[int(takes_ctx) :] if p.kind in _POSITIONAL_ONLY]
        if any(p.default is inspect.Parameter.empty for p in positional):
            raise SettingError(
                "job",
                name,
                f"{function!r} has a positional-only parameter {positional[0].name!r}; a job "
                "takes ctx first, or nothing, and keyword arguments",
            )
        return cls(
            name=name,
            function=function,
            settings=settings,
            is_async=inspect.iscoroutinefunction(function),
            takes_ctx=takes_ctx,
            kind=kind,
        )

    @cached_property
    def parameters(self) -> Parameters:
        """The keyword parameters of the function (without ``ctx``)."""
        return Parameters.of(self.function, self.takes_ctx)

    def check_arguments(self, args: Mapping[str, Any], *, complete: bool = True) -> None:
        """Refuse keyword arguments the function cannot take, or (when they are to be
        `complete`) that leave a parameter it needs without a value: SettingError naming the
        parameter."""
        self.parameters.check(self.name, args, complete=complete)

    @cached_property
    def stored_defaults(self) -> dict[str, Any]:
        """The settings as the store keeps them, with the function's parameters (so that a
        process without the code can check a run's arguments); worked out once: every start
        compares them."""
        return {**self.settings.to_json(), PARAMETERS: self.parameters.to_json()}


@dataclass(slots=True)
class JobState:
    """What the engine tracks of one job while it runs: settings, due time and active runs."""

    definition: JobDefinition
    settings: JobSettings
    paused: bool
    next_fire_at: datetime | None
    running: set[int] = field(default_factory=set)
    queued: set[int] = field(default_factory=set)
    # Queued manual runs asked for later (`run_later`), by id: when each may start. Until then
    # they do not count against the overlap of the job's fire times.
    later: dict[int, datetime] = field(default_factory=dict)
    # The skipped run that records the job's current streak of skipped fire times, if any,
    # and the last fire time an event of it told of.
    streak: int | None = None
    streak_announced: datetime | None = None
    # While the engine is behind, a skip job whose run waits is looked at again only when its
    # run ends, or at this instant (`due_at`): its fire times meanwhile would all be skipped.
    parked_until: datetime | None = None

    @property
    def due_at(self) -> datetime | None:
        """When the scheduler next looks at the job: its next fire time, or later if parked."""
        if self.next_fire_at is None or self.parked_until is None:
            return self.next_fire_at
        return max(self.next_fire_at, self.parked_until)

    def active_now(self, now: datetime) -> tuple[list[int], list[int | None]]:
        """The running and queued runs that count against the job's overlap policy at `now`:
        all but the runs asked for later whose time has not come."""
        queued: list[int | None] = [
            i for i in sorted(self.queued) if i not in self.later or self.later[i] <= now
        ]
        return sorted(self.running), queued

    def let_go(self, run_id: int) -> None:
        """A queued run left the queue (started, or cancelled)."""
        self.queued.discard(run_id)
        self.later.pop(run_id, None)

    @property
    def limit(self) -> int:
        """How many runs of this job may run at once."""
        return self.settings.max_concurrent if self.settings.overlap is Overlap.ALLOW else 1


_POSITIONAL_ONLY = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.VAR_POSITIONAL)


def check_not_after_itself(name: str, settings: JobSettings) -> None:
    """SettingError if the job's schedule is ``after`` the job itself (decision 0011)."""
    schedule = settings.schedule
    if isinstance(schedule, After) and name in schedule.jobs:
        raise SettingError("schedule", schedule.text, f"job {name!r} is after itself")


def import_path(function: Callable[..., Any]) -> str:
    """The ``package.module:function`` path that `load_target` finds `function` by; SettingError
    if there is none (a lambda, a nested function, a method of an instance)."""
    module = getattr(function, "__module__", None)
    qualname = getattr(function, "__qualname__", "")
    if not module or module == "__main__" or "<" in qualname:
        raise SettingError(
            "function",
            repr(function)[:80],
            "a job added at run time needs a module-level function that every node can "
            "import: give 'package.module:function'",
        )
    path = f"{module}:{qualname}"
    if load_target(path) is not function:
        raise SettingError("function", path, "does not import as this same function")
    return path


def load_target(path: object) -> Callable[..., Any]:
    """Import the function at ``package.module:function``; SettingError naming what failed."""
    if not isinstance(path, str) or path.count(":") != 1:
        raise SettingError("function", repr(path)[:80], "give 'package.module:function'")
    module_name, _, attribute = path.partition(":")
    try:
        target: Any = importlib.import_module(module_name)
        for part in attribute.split("."):
            target = getattr(target, part)
    except Exception as error:  # any import-time failure of the user's module
        raise SettingError("function", path, f"cannot be imported: {error!r}") from None
    if not callable(target):
        raise SettingError("function", path, f"{target!r} is not callable")
    return target  # type: ignore[no-any-return]


def effective_settings(defaults: JobSettings, record: JobRecord | None) -> JobSettings:
    """The code's defaults with the admin's overrides laid over."""
    if record is None or not record.override:
        return defaults
    return defaults.with_values(record.override)
