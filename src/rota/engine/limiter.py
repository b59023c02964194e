"""Shared rate limiters, as a node uses them (decision 0012).

`LimiterSpec` is a limiter as code declares it (``rota.limiter("tmdb", 40, per="10s")``).
`Limiters` holds, per limiter, this node's current grant from the store: spending one of its
tokens is a lock and a subtraction, and only a node that has none left asks the store for the
next grant (giving the last one back in the same transaction). A wait for capacity sleeps on
the engine's clock; one longer than the limiter's `max_wait` raises `LimiterWait`, which ends the
run for a retry at the time capacity comes back instead of holding a worker slot. Each such
deferral in a row doubles how long the next attempt may wait (`allowed_wait`), and the
`MAX_DEFERRALS`-th fails the run (decision 0012, point 5): a run always ends.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from rota.engine.settings import duration_setting
from rota.errors import RotaError, SettingError
from rota.names import job_name_problem
from rota.schedules.durations import format_duration
from rota.store.limits import Grant, Returned, TokenRequest, instant, micros
from rota.store.operations import deferrals_in_a_row, lineage_deferrals

if TYPE_CHECKING:
    from rota.engine.basis import Basis
    from rota.store.abc import Store

__all__ = [
    "DEFAULT_MAX_WAIT",
    "HOLD",
    "MAX_CAPACITY",
    "MAX_DEFERRALS",
    "LimiterSpec",
    "LimiterWait",
    "Limiters",
    "allowed_wait",
]

HOLD = timedelta(seconds=1)
"""The longest a grant lasts (at most the period): how long a node that died keeps the
unspent tokens of its last grant from the others, beyond the period."""
DEFAULT_MAX_WAIT = timedelta(seconds=60)
MAX_CAPACITY = 10**9
_MAX_BLOCK = 1000  # the most tokens one grant asks for
MAX_DEFERRALS = 8
"""The limiter deferrals in a row that fail a run: its attempts may wait up to 128 times the
limiter's `max_wait`, and capacity came back later every time."""


def allowed_wait(max_wait: timedelta, deferrals: int) -> timedelta:
    """How long an attempt may wait for a limiter after `deferrals` deferrals in a row of its
    run (by the limiter, each time): `max_wait` doubled for each."""
    doublings: int = 2 ** min(max(deferrals, 0), MAX_DEFERRALS)
    return max_wait * doublings


@dataclass(frozen=True)
class LimiterSpec:
    """A limiter as code declares it: `capacity` acquisitions' tokens per `period`, shared by
    every node; a run waits at most `max_wait` for capacity before it is retried later."""

    name: str
    capacity: int
    period: timedelta
    max_wait: timedelta = DEFAULT_MAX_WAIT

    @classmethod
    def create(
        cls,
        name: object,
        capacity: object,
        per: object,
        max_wait: object = DEFAULT_MAX_WAIT,
    ) -> LimiterSpec:
        """Check what code gave: SettingError naming the bad value."""
        if not isinstance(name, str) or (problem := job_name_problem(name)) is not None:
            shown = repr(name)[:60]
            reason = f"{shown} is not text" if not isinstance(name, str) else problem
            raise SettingError("limiter name", shown, str(reason).replace("job", "limiter"))
        if (
            isinstance(capacity, bool)
            or not isinstance(capacity, int)
            or not 1 <= capacity <= MAX_CAPACITY
        ):
            raise SettingError(
                "limiter capacity",
                repr(capacity)[:60],
                f"{capacity!r} is not a whole number 1-{MAX_CAPACITY:,}",
            )
        period = duration_setting(per, "limiter per")
        wait = duration_setting(max_wait, "limiter max_wait", allow_zero=True)
        return cls(name, capacity, period, wait)

    @property
    def hold(self) -> timedelta:
        """How long a grant of this limiter lasts."""
        return min(HOLD, self.period)

    @property
    def max_block(self) -> int:
        """The most tokens a grant asks for: a tenth of the capacity (so that several nodes
        share it), at least 1 and at most 1,000."""
        return max(1, min(self.capacity // 10, _MAX_BLOCK))


class LimiterWait(Exception):
    """Raised out of ``ctx.limit(...)`` when the limiter's capacity comes back later than the
    attempt may wait: the run ends ``skipped`` and its next attempt starts at `until`. This is
    deferral number `deferrals` in a row of the run; the `MAX_DEFERRALS`-th (`exhausted`)
    fails the run instead, with a note saying what to change."""

    def __init__(
        self,
        name: str,
        until: datetime,
        deferrals: int = 1,
        max_wait: timedelta = DEFAULT_MAX_WAIT,
    ) -> None:
        self.name = name
        self.until = until
        self.deferrals = deferrals
        self.max_wait = max_wait
        super().__init__(self.note)

    @property
    def exhausted(self) -> bool:
        """Whether this deferral fails the run (the `MAX_DEFERRALS`-th in a row)."""
        return self.deferrals >= MAX_DEFERRALS

    @property
    def note(self) -> str:
        """What the run's record says."""
        name, waited = self.name, format_duration(allowed_wait(self.max_wait, self.deferrals - 1))
        if self.exhausted:
            return (
                f"limiter {name} deferred this run {self.deferrals} times in a row: its capacity "
                f"came back later than the attempt could wait each time (this one up to {waited}, "
                f"until {self.until.isoformat()}); the run fails rather than wait forever. One "
                f"run needs more tokens than the limiter gives within its max_wait, or others "
                f"take them first: raise limiter {name}'s max_wait (now "
                f"{format_duration(self.max_wait)}) or take fewer tokens per run"
            )
        following = format_duration(allowed_wait(self.max_wait, self.deferrals))
        return (
            f"waiting for limiter {name} until {self.until.isoformat()}: retried then "
            f"(deferral {self.deferrals} in a row (the {MAX_DEFERRALS}th fails the run); the "
            f"next attempt waits up to {following} for limiter {name})"
        )

    def __reduce__(
        self,
    ) -> tuple[type[LimiterWait], tuple[str, datetime, int, timedelta]]:
        return (type(self), (self.name, self.until, self.deferrals, self.max_wait))


class _Held:
    """One limiter's grant on this node, and how much of it was spent."""

    def __init__(self, spec: LimiterSpec) -> None:
        self.spec = spec
        self.lock = threading.Lock()  # spends come from job threads and the loop alike
        self.grant: Grant | None = None
        self.spent = 0
        self.last_spend: int | None = None
        self.block = 1
        self.refill: asyncio.Lock | None = None  # one request to the store at a time

    def spend(self, cost: int, now: int) -> bool:
        """Spend `cost` tokens of the grant at `now` if it has them and `now` is inside it."""
        with self.lock:
            grant = self.grant
            if grant is None or not grant.start <= now <= grant.until:
                return False
            if grant.tokens - self.spent < cost:
                return False
            self.spent += cost
            self.last_spend = now
            return True

    def give_back(self, cost: int) -> Returned | None:
        """Stop spending the grant (it is given back with the next request), and size the next
        one: twice as large if this one was used up, else as large as what was used of it."""
        with self.lock:
            grant, spent, last = self.grant, self.spent, self.last_spend
            self.grant, self.spent, self.last_spend = None, 0, None
        if grant is None:
            return None
        if grant.tokens - spent < cost:  # used up: demand is higher than the grant was
            self.block = min(max(self.block * 2, cost), self.spec.max_block)
        else:
            self.block = max(spent, 1)
        return Returned(grant.id, spent, last)

    def hold(self, grant: Grant) -> None:
        with self.lock:
            self.grant, self.spent, self.last_spend = grant, 0, None


class Limiters:
    """This node's limiters (see the module docstring). Made by the engine on its loop."""

    def __init__(self, specs: Mapping[str, LimiterSpec], basis: Basis) -> None:
        self.specs = specs  # the Rota's own mapping: limiters declared later are seen
        self.basis = basis
        self._held: dict[str, _Held] = {}
        self._loop = asyncio.get_running_loop()
        self.requests = 0  # how many times this node asked the store (for tests and bench)

    def spec(self, name: object, cost: object) -> LimiterSpec:
        """The declared limiter `name`, for an acquisition of `cost` tokens: SettingError if
        there is none of that name, or the cost is not a whole number up to its capacity."""
        spec = self.specs.get(name) if isinstance(name, str) else None
        if spec is None:
            declared = ", ".join(sorted(self.specs)) or "none is declared"
            raise SettingError(
                "limiter",
                repr(name)[:60],
                f"no limiter is named {name!r} (declared: {declared}); declare it with "
                "rota.limiter(name, capacity, per=...)",
            )
        if isinstance(cost, bool) or not isinstance(cost, int) or not 1 <= cost <= spec.capacity:
            raise SettingError(
                "limiter cost",
                repr(cost)[:60],
                f"{cost!r} is not a whole number from 1 to limiter {spec.name}'s capacity "
                f"{spec.capacity}",
            )
        return spec

    def _holder(self, spec: LimiterSpec) -> _Held:
        held = self._held.get(spec.name)
        if held is None:
            held = self._held[spec.name] = _Held(spec)
        held.spec = spec  # as declared now (a limiter declared again replaces its spec)
        return held

    async def acquire(self, name: str, cost: int = 1, run_id: int | None = None) -> datetime:
        """Take `cost` tokens of limiter `name`, waiting (on the engine's clock) for capacity;
        `LimiterWait` if that would take longer than the limiter's `max_wait`, doubled for each
        of the deferrals in a row before run `run_id` (looked up only for a wait that long).
        The instant they were spent at."""
        spec = self.spec(name, cost)
        held = self._holder(spec)
        clock = self.basis.clock
        deferrals: int | None = None
        while True:
            now = clock.now()
            if held.spend(cost, micros(now)):
                return now
            if held.refill is None:
                held.refill = asyncio.Lock()
            async with held.refill:
                now = clock.now()
                if held.spend(cost, micros(now)):
                    return now
                ready = await self._refill(held, cost, now)
            if ready is not None and ready > now:
                if ready - now > spec.max_wait:
                    if deferrals is None:
                        deferrals = await self.deferrals_before(run_id)
                    if ready - now > allowed_wait(spec.max_wait, deferrals):
                        raise LimiterWait(spec.name, ready, deferrals + 1, spec.max_wait)
                await clock.sleep_until(ready)

    async def deferrals_before(self, run_id: int | None) -> int:
        """How many limiter deferrals in a row came right before run `run_id` (its retry_of,
        that one's, and so on, while they are runs a limiter deferred; at most
        `MAX_DEFERRALS`). 0 when the store cannot say: the run is not failed for that."""
        if run_id is None:
            return 0
        return await self._read_lineage(_deferrals_in_a_row, run_id)

    async def deferrals_in(self, run_id: int) -> int:
        """How many runs of run `run_id`'s lineage (its retry_of, that one's, and so on) a
        limiter deferred, in a row or not: attempts that do not count against the retry
        policy. Read only for a failed attempt after the first, when limiters are declared;
        0 when the store cannot say (the run gets no more retries than before)."""
        if not self.specs:
            return 0
        return await self._read_lineage(_lineage_deferrals, run_id)

    async def _read_lineage(self, count: Callable[[Store, int], int], run_id: int) -> int:
        """`count(store, run_id)` on the writer thread, in one call; 0 if the store fails."""
        try:
            return await self.basis.writer.call(count, self.basis.store, run_id)
        except Exception as error:
            self.basis.outage.failed(
                "reading a run's limiter deferrals", error, self.basis.clock.now()
            )
            return 0

    async def _refill(self, held: _Held, cost: int, now: datetime) -> datetime | None:
        """Ask the store for the next grant; None if one came that can be spent now, else when
        to look again."""
        spec = held.spec
        back = held.give_back(cost)
        request = TokenRequest(
            spec.name,
            spec.capacity,
            spec.period,
            now,
            max(cost, held.block),
            cost,
            spec.hold,
            back,
        )
        self.requests += 1
        taken = await self.basis.writer.call(self.basis.store.take_tokens, request)
        if taken.grant is None:
            return instant(taken.free_at) if taken.free_at is not None else now
        held.hold(taken.grant)
        start = instant(taken.grant.start)
        return start if start > now else None

    def acquire_sync(
        self,
        name: str,
        cost: int,
        on_cancel: Callable[[Callable[[], None]], Callable[[], None]],
        run_id: int | None = None,
    ) -> datetime:
        """`acquire` from a sync job's thread: spends a held token at once, else waits for the
        engine's loop to get one. `on_cancel` registers what a cancel of the run calls (it
        ends the wait); it returns a function that unregisters it."""
        spec = self.spec(name, cost)
        if _on_loop(self._loop):
            raise RotaError(
                f"'with ctx.limit({name!r})' would block the engine's loop: an async job "
                f"uses 'async with ctx.limit({name!r})'"
            )
        now = self.basis.clock.now()
        if self._holder(spec).spend(cost, micros(now)):
            return now
        future = asyncio.run_coroutine_threadsafe(self.acquire(name, cost, run_id), self._loop)

        def cancel() -> None:
            future.cancel()

        stop = on_cancel(cancel)
        try:
            return future.result()
        except concurrent.futures.CancelledError:
            raise RotaError(f"the run was cancelled while it waited for limiter {name}") from None
        finally:
            stop()

    async def close(self) -> None:
        """Give back every grant held (a stopping node): the unspent tokens are free at once."""
        now = self.basis.clock.now()
        for held in list(self._held.values()):
            back = held.give_back(1)
            if back is None:
                continue
            spec = held.spec
            request = TokenRequest(
                spec.name, spec.capacity, spec.period, now, 0, 0, spec.hold, back
            )
            try:
                await self.basis.writer.call(self.basis.store.take_tokens, request)
            except Exception as error:  # they count until their grant ends, as after a crash
                self.basis.outage.failed("giving back limiter tokens", error, now)


def _lineage_deferrals(store: Store, run_id: int) -> int:
    """`Limiters.deferrals_in`, on the writer thread: one read per earlier attempt."""
    run = store.get_run(run_id)
    return 0 if run is None else lineage_deferrals(run, store.get_run)


def _deferrals_in_a_row(store: Store, run_id: int) -> int:
    """`Limiters.deferrals_before`, on the writer thread."""
    run = store.get_run(run_id)
    return 0 if run is None else deferrals_in_a_row(run, store.get_run, MAX_DEFERRALS)


def _on_loop(loop: asyncio.AbstractEventLoop) -> bool:
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:
        return False
