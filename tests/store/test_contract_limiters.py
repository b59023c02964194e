"""Limiters in every store: grants within the capacity, shared by all asking, kept in the store."""

from __future__ import annotations

from datetime import timedelta

import pytest

from rota.errors import StoreError
from rota.store import Store
from rota.store.limits import Returned, TokenRequest, instant, micros

from .conftest import T0

PERIOD = timedelta(seconds=10)
HOLD = timedelta(seconds=1)


def ask(
    store: Store, seconds: float, want: int = 1, least: int = 1, back: Returned | None = None
) -> TokenRequest:
    return TokenRequest("tmdb", 4, PERIOD, T0 + timedelta(seconds=seconds), want, least, HOLD, back)


def test_grants_stop_at_the_capacity_and_say_when_more_comes(store: Store) -> None:
    first = store.take_tokens(ask(store, 0, want=3))
    assert first.grant is not None
    assert (first.grant.tokens, instant(first.grant.start)) == (3, T0)
    second = store.take_tokens(ask(store, 0.5, want=3))
    assert second.grant is not None
    assert second.grant.tokens == 1
    refused = store.take_tokens(ask(store, 2))
    assert refused.grant is None
    # The first grant counts until its end (T0 + 1 s) plus the period.
    assert refused.free_at == micros(T0 + HOLD + PERIOD)
    later = store.take_tokens(ask(store, 11, want=2))
    assert later.grant is not None
    assert later.grant.tokens == 2


def test_a_grant_given_back_frees_its_unspent_tokens(store: Store) -> None:
    first = store.take_tokens(ask(store, 0, want=4))
    assert first.grant is not None
    assert store.take_tokens(ask(store, 0.1)).grant is None
    back = Returned(first.grant.id, 1, micros(T0))
    again = store.take_tokens(ask(store, 0.2, want=4, back=back))
    assert again.grant is not None
    assert again.grant.tokens == 3


def test_want_zero_only_gives_back(store: Store) -> None:
    first = store.take_tokens(ask(store, 0, want=4))
    assert first.grant is not None
    back = Returned(first.grant.id, 0, None)
    only_back = TokenRequest("tmdb", 4, PERIOD, T0, 0, 0, HOLD, back)
    assert store.take_tokens(only_back).grant is None
    assert store.limiter_states()[0].in_use(micros(T0)) == 0


def test_the_state_is_kept_and_listed(store: Store) -> None:
    store.take_tokens(ask(store, 0, want=2))
    (state,) = store.limiter_states()
    assert (state.name, state.capacity, state.period) == ("tmdb", 4, micros(PERIOD))
    assert state.in_use(micros(T0)) == 2
    assert state.next_refill(micros(T0)) == micros(T0 + HOLD + PERIOD)


def test_the_code_s_capacity_wins(store: Store) -> None:
    store.take_tokens(ask(store, 0, want=4))
    bigger = TokenRequest("tmdb", 10, PERIOD, T0, 6, 1, HOLD)
    taken = store.take_tokens(bigger)
    assert taken.grant is not None
    assert taken.grant.tokens == 6
    assert store.limiter_states()[0].capacity == 10


def test_a_bad_request_is_refused_naming_the_field(store: Store) -> None:
    with pytest.raises(StoreError, match="want -1"):
        store.take_tokens(TokenRequest("tmdb", 4, PERIOD, T0, -1, 0, HOLD))
    with pytest.raises(StoreError, match="least 2 is above want"):
        store.take_tokens(TokenRequest("tmdb", 4, PERIOD, T0, 1, 2, HOLD))
    with pytest.raises(StoreError, match="period"):
        store.take_tokens(TokenRequest("tmdb", 4, timedelta(0), T0, 1, 1, HOLD))


def test_a_daily_quota_drawn_on_a_token_at_a_time_keeps_a_small_row(store: Store) -> None:
    day = timedelta(days=1)
    for second in range(200):
        request = TokenRequest("omdb", 1000, day, T0 + timedelta(seconds=second), 1, 1, HOLD)
        assert store.take_tokens(request).grant is not None
    (state,) = store.limiter_states()
    now = micros(T0 + timedelta(seconds=200))
    assert state.in_use(now) == 200  # nothing is lost by merging
    assert len(state.grants) <= 66
