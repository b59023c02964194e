"""Prerequisites: a job's `requires=[check, ...]`, run before its function (decision 0011).

A check is a sync or async callable, given the run's context when its first parameter is named
``ctx`` (as a job is), else nothing. It returns True (met), a text (not met, and why) or False
(not met). The first check not met makes the run `skipped` with its reason, and the job function
is never called. A check that raises fails the run with the check's traceback, like a job that
raises; a check that returns anything else fails it, naming what it returned.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any

from rota.errors import SettingError
from rota.outcomes import Skip

__all__ = [
    "StoredCheck",
    "check_name",
    "check_path",
    "read_checks",
    "require",
    "require_in_thread",
    "then_call",
    "then_call_in_thread",
]


@dataclass(frozen=True)
class StoredCheck:
    """A check known by its import path (``package.module:function``): a job added at run time,
    or the store's copy of a job's settings. Imported when it is first called."""

    path: str

    def __call__(self, *args: Any) -> Any:
        from rota.engine.jobs import load_target  # the jobs module reads the settings

        return load_target(self.path)(*args)

    @property
    def target(self) -> Callable[..., Any]:
        """The function the path names (imported now)."""
        from rota.engine.jobs import load_target

        return load_target(self.path)


def check_path(check: Callable[..., Any]) -> str:
    """How the store names a check: its import path, as far as it has one."""
    if isinstance(check, StoredCheck):
        return check.path
    module = getattr(check, "__module__", None) or "?"
    return f"{module}:{getattr(check, '__qualname__', repr(check))}"


def check_name(check: Callable[..., Any]) -> str:
    """A check's short name, for a reason: its function's name."""
    if isinstance(check, StoredCheck):
        return check.path.rpartition(":")[2]
    return str(getattr(check, "__name__", None) or repr(check))


def read_checks(value: object) -> tuple[Callable[..., Any], ...]:
    """The `requires` setting: a list of callables or ``package.module:function`` paths;
    SettingError naming the first that is neither."""
    if value is None:
        return ()
    if isinstance(value, str) or callable(value) or not isinstance(value, Sequence):
        raise SettingError(
            "requires", repr(value)[:60], "give a list of checks (callables or import paths)"
        )
    checks: list[Callable[..., Any]] = []
    for item in value:
        if isinstance(item, str):
            module, colon, name = item.partition(":")
            if not (module and colon and name) or ":" in name:
                raise SettingError("requires", item, "give 'package.module:function'")
            checks.append(StoredCheck(item))
        elif callable(item):
            checks.append(item)
        else:
            raise SettingError("requires", repr(item)[:60], f"{item!r} is not callable")
    return tuple(checks)


def _takes_ctx(check: Callable[..., Any]) -> bool:
    try:
        parameters = list(inspect.signature(check).parameters.values())
    except (TypeError, ValueError):  # a builtin: it takes nothing we can see
        return False
    return bool(parameters) and parameters[0].name == "ctx"


def _call_of(check: Callable[..., Any], context: Any) -> tuple[Callable[..., Any], tuple[Any, ...]]:
    target = check.target if isinstance(check, StoredCheck) else check
    return target, ((context,) if _takes_ctx(target) else ())


def _verdict(check: Callable[..., Any], result: object) -> None:
    """Go on if `result` is True; raise Skip with the reason if it is a text or False."""
    if result is True:
        return
    if result is False or result == "":
        raise Skip(f"check {check_name(check)} was not met")
    if isinstance(result, str):
        raise Skip(result)
    raise TypeError(
        f"check {check_name(check)} returned {result!r}: a check returns True, or a reason "
        "(text) or False when the run is to be skipped"
    )


async def _awaited(awaitable: Awaitable[Any]) -> Any:
    return await awaitable


async def require(checks: Sequence[Callable[..., Any]], context: Any, pool: Executor) -> None:
    """Run the checks in order on the engine's loop (a sync one in `pool`): Skip with the
    reason of the first not met; what a check raises, raised."""
    loop = asyncio.get_running_loop()
    for check in checks:
        target, arguments = _call_of(check, context)
        if inspect.iscoroutinefunction(target):
            result = await target(*arguments)
        else:
            result = await loop.run_in_executor(pool, functools.partial(target, *arguments))
            if inspect.isawaitable(result):
                result = await result
        _verdict(check, result)


def require_in_thread(
    checks: Sequence[Callable[..., Any]], context: Any, loop: asyncio.AbstractEventLoop
) -> None:
    """`require` from a sync job's thread: a sync check is called here, an async one on the
    engine's `loop`."""
    for check in checks:
        target, arguments = _call_of(check, context)
        result = target(*arguments)
        if inspect.isawaitable(result):
            result = asyncio.run_coroutine_threadsafe(_awaited(result), loop).result()
        _verdict(check, result)


async def then_call(
    checks: Sequence[Callable[..., Any]],
    context: Any,
    pool: Executor,
    call: Callable[[], Awaitable[Any]],
) -> Any:
    """An async job's call after its checks: within its run's timeout and cancellation."""
    await require(checks, context, pool)
    return await call()


def then_call_in_thread(
    checks: Sequence[Callable[..., Any]],
    context: Any,
    loop: asyncio.AbstractEventLoop,
    call: Callable[[], Any],
) -> Any:
    """A sync job's call after its checks, in the job's thread."""
    require_in_thread(checks, context, loop)
    return call()
