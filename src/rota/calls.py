"""The rules every call of the `Rota` facade follows: each sync call has an ``_async`` form
that runs it in a worker thread; no blocking call runs on the engine's own loop or inside a run;
ids and timeouts are checked at the call. And `Running`, the ``with``/``async with`` of a Rota.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from datetime import timedelta
from typing import Any, Concatenate, Generic, ParamSpec, Protocol, TypeVar

from rota.engine.context import current_run
from rota.errors import RotaError, SettingError, UnknownRunError

__all__ = [
    "Duration",
    "Running",
    "checked_run_id",
    "checked_seconds",
    "in_thread",
    "on_loop",
    "refuse_inside_a_run",
]

S = TypeVar("S")
P = ParamSpec("P")
R = TypeVar("R")
Duration = str | float | timedelta


def in_thread(
    method: Callable[Concatenate[S, P], R],
) -> Callable[Concatenate[S, P], Coroutine[Any, Any, R]]:
    """The ``_async`` form of a sync method: the same call, run in a worker thread so that the
    caller's event loop (maybe the engine's own) never waits on the store."""

    async def call(self: S, /, *args: P.args, **kwargs: P.kwargs) -> R:
        return await asyncio.to_thread(method, self, *args, **kwargs)

    call.__name__ = call.__qualname__ = f"{method.__name__}_async"
    call.__doc__ = f"`{method.__name__}` for async code (same parameters and result)."
    return call


class _Startable(Protocol):
    def start(self) -> None: ...
    def stop(self, grace: Duration | None = None) -> None: ...
    async def start_async(self) -> None: ...
    async def stop_async(self, grace: Duration | None = None) -> None: ...


T = TypeVar("T", bound=_Startable)


class Running(Generic[T]):
    """`Rota.running`: start on the way in, stop with a grace on the way out."""

    def __init__(self, rota: T, grace: timedelta) -> None:
        self._rota = rota
        self._grace = grace

    def __enter__(self) -> T:
        self._rota.start()
        return self._rota

    def __exit__(self, *exc: object) -> None:
        self._rota.stop(self._grace)

    async def __aenter__(self) -> T:
        await self._rota.start_async()
        return self._rota

    async def __aexit__(self, *exc: object) -> None:
        await self._rota.stop_async(self._grace)


def on_loop(loop: asyncio.AbstractEventLoop) -> bool:
    """Whether the caller runs on `loop` (a blocking wait for it would wait for itself)."""
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:
        return False


def refuse_inside_a_run(call: str) -> None:
    """RotaError if called from inside a run: it would wait for the run itself."""
    if current_run.get() is not None:
        raise RotaError(
            f"rota.{call}() cannot be called from inside a run: it would wait for the run "
            "itself. Return from the job, or start the work elsewhere"
        )


def checked_seconds(value: object) -> float:
    """A timeout in seconds, above 0; SettingError otherwise."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise SettingError("timeout", repr(value)[:40], "give a number of seconds above 0")
    return float(value)


def checked_run_id(value: object) -> int:
    """A run id as a caller gives it: SettingError if it is no whole number, UnknownRunError
    if no run can have it."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise SettingError("run id", repr(value)[:40], "a run id is a whole number")
    if not 1 <= value < 2**63:
        raise UnknownRunError(value)
    return value
