"""The limiter's promise, for any interleaving: no window of the period holds spends of more
than the capacity (decision 0012). Nodes ask for grants, spend some of their tokens at instants
inside them, and give them back; the clock moves on by arbitrary steps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from rota.store.limits import Grant, LimiterState, Returned, TokenRequest, micros, take

T0 = datetime(2026, 12, 2, tzinfo=UTC)

step = st.tuples(
    st.integers(0, 2),  # which node acts
    st.integers(0, 3_000_000),  # how far the clock moves first (µs)
    st.integers(1, 6),  # tokens wanted
    st.integers(0, 6),  # tokens spent of the node's grant before it asks again
    st.booleans(),  # whether it gives the grant back when it asks
    st.integers(0, 100),  # where in its grant (up to now) the node spends, in percent
)


@settings(max_examples=300, deadline=None)
@given(
    capacity=st.integers(1, 8),
    period=st.integers(1, 5_000_000),
    hold=st.integers(0, 2_000_000),
    steps=st.lists(step, min_size=1, max_size=60),
    compact_at=st.sampled_from([0, 2, 64]),
)
def test_no_window_holds_more_than_the_capacity(
    capacity: int,
    period: int,
    hold: int,
    steps: list[tuple[int, int, int, int, bool, int]],
    compact_at: int,
) -> None:
    state = LimiterState("x", capacity, period)
    now = micros(T0)
    held: dict[int, tuple[Grant, int, int | None]] = {}  # node: grant, spent, last spend
    spends: list[int] = []  # the instant of each token spent
    for node, advance, want, spend, give_back, where in steps:
        now += advance
        if node in held:
            grant, spent, last = held.pop(node)
            # Spend some of the grant's tokens, at an instant inside it that has come.
            latest = max(grant.start, min(grant.until, now))
            for _ in range(min(spend, grant.tokens - spent)):
                at = grant.start + (latest - grant.start) * where // 100
                spends.append(at)
                spent, last = spent + 1, at
            back = Returned(grant.id, spent, last) if give_back else None
        else:
            back = None
        request = TokenRequest(
            "x",
            capacity,
            timedelta(microseconds=period),
            T0 + timedelta(microseconds=now - micros(T0)),
            want,
            1,
            timedelta(microseconds=hold),
            back,
        )
        taken = take(state, request, compact_at=compact_at)
        state = taken.state
        if taken.grant is not None:
            assert taken.grant.tokens <= want
            held[node] = (taken.grant, 0, None)
        else:
            assert taken.free_at is not None
            assert taken.free_at > now - 1
    # Spend what the grants still held allow, at their ends, as a greedy node would.
    for grant, spent, _ in held.values():
        spends.extend([grant.until] * (grant.tokens - spent))
    spends.sort()
    # Every window [a, a + period) starting at a spend holds at most `capacity` spends; the
    # window with the most spends can always be moved to start at one.
    for first, start in enumerate(spends):
        inside = sum(1 for at in spends[first:] if at < start + period)
        assert inside <= capacity, (start, spends)
