"""A job's parameters: what keyword arguments its function takes, and which it needs.

Worked out from the function's signature (without ``ctx``) where the code is at hand, and stored
with the job's defaults when a node syncs it (under `PARAMETERS`), so that a process without the
job's code (an admin client, the CLI on the database) checks a run's arguments the same way, with
the same messages.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from rota.errors import SettingError

__all__ = ["PARAMETERS", "Parameters", "setting_values"]

PARAMETERS = "parameters"
"""The key of the parameters in a job's stored defaults (beside its settings)."""

_BY_KEYWORD = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)


@dataclass(frozen=True)
class Parameters:
    """The keyword parameters of a job's function, in the signature's order."""

    names: tuple[str, ...]
    required: tuple[str, ...]
    any_keyword: bool  # it takes **kwargs

    @classmethod
    def of(cls, function: Callable[..., Any], takes_ctx: bool) -> Parameters:
        """The parameters of `function` (a checked job function), ``ctx`` left out."""
        parameters = list(inspect.signature(function).parameters.values())[int(takes_ctx) :]
        by_keyword = [p for p in parameters if p.kind in _BY_KEYWORD]
        return cls(
            names=tuple(p.name for p in by_keyword),
            required=tuple(p.name for p in by_keyword if p.default is inspect.Parameter.empty),
            any_keyword=any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters),
        )

    @classmethod
    def stored(cls, defaults: Mapping[str, Any]) -> Parameters | None:
        """The parameters stored in a job's defaults; None if there are none (a row written by
        an older rota) or they are not in the stored form."""
        value = defaults.get(PARAMETERS)
        if not isinstance(value, Mapping):
            return None
        names, required, any_keyword = (
            value.get("names"),
            value.get("required"),
            value.get("any_keyword"),
        )
        if (
            not isinstance(names, list)
            or not isinstance(required, list)
            or not isinstance(any_keyword, bool)
            or not all(isinstance(n, str) for n in names + required)
        ):
            return None
        return cls(tuple(names), tuple(required), any_keyword)

    def to_json(self) -> dict[str, Any]:
        """The form stored in the job's defaults."""
        return {
            "names": list(self.names),
            "required": list(self.required),
            "any_keyword": self.any_keyword,
        }

    def check(self, job: str, args: Mapping[str, Any], *, complete: bool = True) -> None:
        """Refuse keyword arguments the function cannot take, or (when they are to be
        `complete`) that leave a parameter it needs without a value: SettingError naming the
        parameter."""
        for name in args:
            if name not in self.names and not self.any_keyword:
                offered = ", ".join(sorted(self.names)) or "no arguments"
                raise SettingError(
                    "args", name, f"job {job!r} has no parameter {name!r} (it takes {offered})"
                )
        for name in self.required if complete else ():
            if name not in args:
                raise SettingError(
                    "args", name, f"job {job!r} needs a value for parameter {name!r}"
                )


def setting_values(defaults: Mapping[str, Any]) -> dict[str, Any]:
    """A job's stored defaults without its parameters: its settings alone."""
    return {key: value for key, value in defaults.items() if key != PARAMETERS}
