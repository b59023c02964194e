"""The `Schedule` interface: a pure, immutable value that says when a job fires."""

from __future__ import annotations

from abc import ABC, abstractmethod
from datetime import datetime
from typing import Any, ClassVar

from rota.errors import ScheduleError

__all__ = ["Schedule", "require_aware"]


class Schedule(ABC):
    """When a job fires. Subclasses are frozen dataclasses, validated in their constructors."""

    kind: ClassVar[str]
    _kinds: ClassVar[dict[str, type[Schedule]]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        kind = cls.__dict__.get("kind")
        if kind is not None:
            Schedule._kinds[kind] = cls

    @abstractmethod
    def next_after(self, t: datetime) -> datetime | None:
        """The first fire time strictly after the aware instant `t`; None if none is left."""

    @property
    @abstractmethod
    def text(self) -> str:
        """The canonical text form: ``parse(s.text, tz=s.tz) == s``."""

    @abstractmethod
    def describe(self) -> str:
        """A sentence for people, e.g. ``"Every day at 02:00 (Europe/Berlin)"``."""

    @abstractmethod
    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict with a ``"kind"`` key; `Schedule.from_dict` reads it back."""

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Schedule:
        """Rebuild a schedule from `to_dict` output, whatever its kind."""
        kind = data.get("kind")
        target = Schedule._kinds.get(kind) if isinstance(kind, str) else None
        if target is None:
            known = ", ".join(sorted(Schedule._kinds))
            raise ScheduleError("schedule", repr(kind), f"kind {kind!r} is not one of {known}")
        return target._from_fields(data)

    @classmethod
    @abstractmethod
    def _from_fields(cls, data: dict[str, Any]) -> Schedule: ...

    def with_default_zone(self, tz: str) -> Schedule:
        """This schedule, read in `tz` if it reads wall times and was made without a zone.

        ``daily("02:00")`` passed to a ``Rota(timezone="Europe/Berlin")`` means 02:00 in Berlin.
        """
        return self

    def __str__(self) -> str:
        return self.text


def require_aware(t: datetime) -> None:
    """Schedules compare real instants; a naive datetime has none."""
    if t.tzinfo is None or t.utcoffset() is None:
        raise ScheduleError("instant", t.isoformat(), f"{t.isoformat()} has no time zone")
