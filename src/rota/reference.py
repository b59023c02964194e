"""The API reference (docs/api.md), written from the public surface's own signatures and
docstrings so that it cannot leave a name out or drift from the code.

``python -m rota.reference > docs/api.md`` writes it; a test checks the file is current.
"""

from __future__ import annotations

import dataclasses
import enum
import inspect
from collections.abc import Iterator
from typing import Any

import rota

__all__ = ["reference"]

_HEAD = """\
# API reference

Every name `rota` exports, with its signature and docstring, written by
`python -m rota.reference` (a test keeps this file current). Conventions:

- Every admin and reading call of `Rota` has an `_async` form with the same parameters and
  result (`run_now` / `run_now_async`); the async form runs the same code in a worker thread.
  `wait` and `stop` refuse to run on the engine's own loop and name their async form instead.
- Every datetime the `Rota` returns (jobs, runs, events) is aware and in UTC (`datetime.UTC`).
  Two values are about wall clocks on purpose: `Preview.fire_times` are shown in the preview's
  zone, and a schedule's `next_after` gives the instant with the UTC offset of its own zone at
  that instant. Schedules read wall-clock times in their own zone (the `Rota`'s `timezone`
  unless they name one).
- Errors are `RotaError`s; `ScheduleError` and `SettingError` carry `field`, `value` and
  `reason`.
"""


def reference() -> str:
    """The whole reference as Markdown."""
    return "\n".join([_HEAD, *_sections()]).rstrip() + "\n"


def _sections() -> Iterator[str]:
    for name in sorted(rota.__all__, key=lambda n: (n[0].islower(), n.lower())):
        member = getattr(rota, name)
        yield f"## `{name}`\n"
        if inspect.isclass(member):
            yield from _class(name, member)
        else:
            yield f"```python\n{name}{_signature(member)}\n```\n"
            yield _doc(member)


def _class(name: str, cls: type) -> Iterator[str]:
    if issubclass(cls, enum.Enum):
        values = ", ".join(f"`{m.value}`" for m in cls)
        yield f"```python\nclass {name}({cls.__bases__[0].__name__})\n```\n"
        yield _doc(cls)
        yield f"Values: {values}.\n"
        return
    if dataclasses.is_dataclass(cls):
        fields = ", ".join(
            f"`{f.name}`" for f in dataclasses.fields(cls) if not f.name.startswith("_")
        )
        yield f"```python\nclass {name}{_signature(cls)}\n```\n"
        yield _doc(cls)
        yield f"Fields: {fields}.\n"
    else:
        yield f"```python\nclass {name}{_signature(cls)}\n```\n"
        yield _doc(cls)
    for attribute, value in sorted(vars(cls).items()):
        if attribute.startswith("_") and attribute not in ("__init__",):
            continue
        if attribute == "__init__" or not (
            inspect.isfunction(value) or isinstance(value, property | classmethod | staticmethod)
        ):
            continue
        yield from _member(name, attribute, value)


def _member(owner: str, attribute: str, value: Any) -> Iterator[str]:
    if isinstance(value, property):
        yield f"- `{owner}.{attribute}` (property): {_line(value)}"
        return
    function = value.__func__ if isinstance(value, classmethod | staticmethod) else value
    if attribute.endswith("_async"):
        yield f"- `{owner}.{attribute}(...)`: {_line(function)}"
        return
    yield f"\n### `{owner}.{attribute}`\n"
    yield f"```python\n{attribute}{_signature(function)}\n```\n"
    yield _doc(function)


def _signature(member: Any) -> str:
    try:
        text = str(inspect.signature(member))
    except (TypeError, ValueError):
        return "(...)"
    return text.replace("self, ", "").replace("(self)", "()")


def _doc(member: Any) -> str:
    return (inspect.getdoc(member) or "(no docstring)") + "\n"


def _line(member: Any) -> str:
    return (inspect.getdoc(member) or "").split("\n\n")[0].replace("\n", " ")


if __name__ == "__main__":
    print(reference(), end="")
