"""Where a job's runs are called: in the engine's process (`Isolation.NONE`), or each in a process
of its own (`Isolation.PROCESS`) that a timeout, a cancel or a stop really ends.

A process-isolated job's function is imported by its path in the child (``module:qualname``):
only a function defined at the top level of an importable module can be isolated. A lambda, a
nested function, a method, a callable object or a function of the script run as ``__main__`` is
refused with a SettingError, at registration where that is known, else when its run starts.
The calling itself lives in `engine.process` (the parent's side) and `engine.child`.
"""

from __future__ import annotations

import inspect
import multiprocessing
from collections.abc import Callable
from enum import StrEnum
from typing import Any

from rota.errors import RotaError, SettingError

__all__ = ["Isolation", "check_isolable", "isolation_problem", "refuse_in_a_starting_child"]


class Isolation(StrEnum):
    """The values of the ``isolation`` setting."""

    NONE = "none"  # a sync job in the worker's threads, an async job on the engine's loop
    PROCESS = "process"  # each run in a child process, ended for real on timeout or cancel


def isolation_problem(function: Callable[..., Any]) -> str | None:
    """Why `function` cannot run in a child process, or None if it can (as far as can be told
    without importing it: at registration its module may be still being imported)."""
    shown = repr(function)[:80]
    module = getattr(function, "__module__", None)
    qualname = getattr(function, "__qualname__", None)
    if inspect.ismethod(function) or not inspect.isfunction(function) or not module:
        return (
            f"{shown} is not a plain function: a process-isolated job's process imports its "
            "function by path, so it must be a function at the top level of a module"
        )
    if "<" in str(qualname) or "." in str(qualname):
        return (
            f"{module}:{qualname} is a lambda, a nested function or a method: a "
            "process-isolated job's process imports its function by path, so define it at the "
            "top level of a module"
        )
    if module in ("__main__", "__mp_main__"):
        return (
            f"{qualname} is defined in the script run as __main__, which the job's process does "
            "not import as such: move the job into a module that the script imports"
        )
    return None


def check_isolable(function: Callable[..., Any]) -> None:
    """SettingError (``isolation: ...``) if `function` cannot run in a child process."""
    problem = isolation_problem(function)
    if problem is not None:
        raise SettingError("isolation", Isolation.PROCESS.value, problem)


def refuse_in_a_starting_child() -> None:
    """RotaError when rota is started by the import of the app's script in a starting job
    process: spawn runs the parent's ``__main__`` script again there, and an engine started by it
    would take runs from inside a job's process."""
    if getattr(multiprocessing.current_process(), "_inheriting", False):
        raise RotaError(
            "rota was started while a job's process imported the app's script (as spawn does): "
            'start rota under `if __name__ == "__main__":` when a job has isolation="process"'
        )
