"""A limiter's state and the pure arithmetic of its grants (decision 0012).

A *grant* lets one node spend `tokens` at instants in ``[start, until]``. A new grant at `t` is
admitted iff the tokens of every grant that still counts (``until > t - period``) plus its own
stay within the capacity; so no window ``[a, a + period)`` ever holds spends of more than
`capacity` tokens, whoever spends them. Times are whole microseconds since the epoch, so that
comparisons are exact. The stores keep a `LimiterState` per limiter and call `take`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from rota.errors import StoreError

__all__ = [
    "Grant",
    "LimiterState",
    "Returned",
    "Taken",
    "TokenRequest",
    "check_request",
    "instant",
    "micros",
    "take",
]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def micros(at: datetime | timedelta) -> int:
    """An instant (microseconds since the epoch) or a duration, in whole microseconds."""
    span = at - _EPOCH if isinstance(at, datetime) else at
    return (span.days * 86_400 + span.seconds) * 1_000_000 + span.microseconds


def instant(value: int) -> datetime:
    """The aware UTC datetime of a number of microseconds since the epoch."""
    return _EPOCH + timedelta(microseconds=value)


@dataclass(frozen=True)
class Grant:
    """`tokens` a node may spend at instants in ``[start, until]`` (microseconds)."""

    id: int
    start: int
    until: int
    tokens: int


@dataclass(frozen=True)
class Returned:
    """A grant given back: `spent` of its tokens were spent, the last at `last_spend`."""

    id: int
    spent: int
    last_spend: int | None


@dataclass(frozen=True)
class LimiterState:
    """A limiter as the store keeps it: its limit, and the grants that may still count."""

    name: str
    capacity: int
    period: int  # microseconds
    grants: tuple[Grant, ...] = ()
    next_id: int = 1
    latest: int = 0  # the latest start granted: grants never start earlier

    def counted(self, now: int) -> tuple[Grant, ...]:
        """The grants that count against a grant starting at `now`."""
        return tuple(g for g in self.grants if g.until > now - self.period)

    def in_use(self, now: int) -> int:
        """Tokens that count against a grant at `now`."""
        return sum(g.tokens for g in self.counted(now))

    def free_at(self, now: int, tokens: int) -> int:
        """The earliest instant from `now` on at which `tokens` could be granted (once the
        oldest counted grants stop counting)."""
        counted = sorted(self.counted(now), key=lambda g: g.until)
        used = sum(g.tokens for g in counted)
        at = now
        for grant in counted:
            if used + tokens <= self.capacity:
                break
            used -= grant.tokens
            at = grant.until + self.period
        return max(at, now)

    def next_refill(self, now: int) -> int | None:
        """When the earliest counted grant stops counting (None: nothing is in use)."""
        counted = self.counted(now)
        return min(g.until for g in counted) + self.period if counted else None

    def to_json(self) -> list[list[int]]:
        """The grants as the store's JSON column keeps them."""
        return [[g.id, g.start, g.until, g.tokens] for g in self.grants]

    @staticmethod
    def grants_of(value: Any) -> tuple[Grant, ...]:
        """The grants of the JSON column."""
        return tuple(Grant(*map(int, item)) for item in value or ())


@dataclass(frozen=True)
class TokenRequest:
    """A node asks limiter `name` (declared with `capacity` per `period`) at `at` for up to
    `want` tokens, at least `least`, to spend within `hold`; giving back `back` first. With
    `want` 0 it only gives back."""

    name: str
    capacity: int
    period: timedelta
    at: datetime
    want: int
    least: int
    hold: timedelta
    back: Returned | None = None


@dataclass(frozen=True)
class Taken:
    """What a request came to: the new state, and a grant, or when one could be had."""

    state: LimiterState
    grant: Grant | None
    free_at: int | None = None


def check_request(request: TokenRequest) -> None:
    """Refuse a request no limiter could serve (StoreError naming the field)."""
    if not isinstance(request.name, str) or not request.name:
        raise StoreError(f"limiter name: {request.name!r} is not a non-empty text")
    for field, lowest in (("capacity", 1), ("want", 0), ("least", 0)):
        value = getattr(request, field)
        if isinstance(value, bool) or not isinstance(value, int) or value < lowest:
            raise StoreError(
                f"limiter {request.name}: {field} {value!r} is not a whole number >= {lowest}"
            )
    if request.least > request.want:
        raise StoreError(f"limiter {request.name}: least {request.least} is above want")
    if not isinstance(request.period, timedelta) or request.period <= timedelta(0):
        raise StoreError(f"limiter {request.name}: period {request.period!r} is not positive")
    if not isinstance(request.hold, timedelta) or request.hold < timedelta(0):
        raise StoreError(f"limiter {request.name}: hold {request.hold!r} is negative")
    if not isinstance(request.at, datetime) or request.at.utcoffset() is None:
        raise StoreError(f"limiter {request.name}: at {request.at!r} is not an aware datetime")


COMPACT_AT = 64
"""How many ended grants a row holds before neighbouring ones are merged (`take`)."""
_MERGED = 0  # the id of a merged grant: no node holds it, so none gives it back


def take(state: LimiterState, request: TokenRequest, *, compact_at: int = COMPACT_AT) -> Taken:
    """Give back `request.back`, drop grants that no longer count, and grant up to `want`
    tokens (at least `least`) if the capacity allows; else no grant and when `least` could be
    had. `state`'s capacity and period give way to the request's (the code's).

    Past `compact_at` ended grants, those whose ends lie within a hundredth of the period of
    each other are merged into one (their tokens counted until the latest end): the row stays
    small for a daily quota drawn on a token at a time, and a token counts at most a hundredth
    of the period longer than it would have."""
    now = max(micros(request.at), state.latest)
    state = replace(state, capacity=request.capacity, period=micros(request.period))
    grants = list(state.grants)
    if request.back is not None:
        grants = _given_back(grants, request.back)
    state = replace(state, grants=tuple(grants))
    state = replace(state, grants=_compacted(state.counted(now), now, state.period, compact_at))
    free = state.capacity - state.in_use(now)
    if free < request.least:
        return Taken(state, None, state.free_at(now, request.least))
    tokens = min(request.want, free)
    if tokens == 0:  # only giving back (want 0), or nothing free and nothing needed
        return Taken(state, None)
    grant = Grant(state.next_id, now, now + max(micros(request.hold), 0), tokens)
    state = replace(
        state, grants=(*state.grants, grant), next_id=state.next_id + 1, latest=grant.start
    )
    return Taken(state, grant)


def _given_back(grants: list[Grant], back: Returned) -> list[Grant]:
    """Shrink a returned grant to what was spent of it, up to its last spend: safe, since
    counting less of a grant than was admitted never lets more through than admitted."""
    kept: list[Grant] = []
    for grant in grants:
        if grant.id != back.id:
            kept.append(grant)
        elif back.spent > 0:
            last = grant.until if back.last_spend is None else back.last_spend
            until = min(grant.until, max(grant.start, last))
            kept.append(replace(grant, tokens=min(grant.tokens, back.spent), until=until))
    return kept


def _compacted(
    grants: tuple[Grant, ...], now: int, period: int, compact_at: int
) -> tuple[Grant, ...]:
    """Merge ended grants whose ends are close (see `take`). Safe: a merged grant counts its
    tokens at least as long as each of its parts did, and is never given back (a node that
    gives one of its parts back changes nothing)."""
    ended = sorted((g for g in grants if g.until <= now), key=lambda g: g.until)
    if len(ended) <= compact_at:
        return grants
    width = max(period // 100, 1)
    merged: list[Grant] = []
    first_end = 0
    for grant in ended:
        if merged and grant.until - first_end <= width:
            last = merged[-1]
            merged[-1] = Grant(
                _MERGED, min(last.start, grant.start), grant.until, last.tokens + grant.tokens
            )
        else:
            merged.append(grant)
            first_end = grant.until
    return (*merged, *(g for g in grants if g.until > now))
