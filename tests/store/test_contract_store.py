"""Contract: nodes, times, input checks, all-or-nothing apply, open and close, threads."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rota.errors import StoreError
from rota.store import (
    Claim,
    Enqueue,
    Finish,
    Fire,
    InterruptRuns,
    MemoryStore,
    NewRun,
    NodeRecord,
    Progress,
    Reason,
    RequestCancel,
    Retention,
    RunStatus,
    Store,
    UpdateJob,
)

from .conftest import T0, at, enqueue, new, on_postgresql, running

# -- nodes -----------------------------------------------------------------------------------


def node(node_id: str, started: datetime) -> NodeRecord:
    return NodeRecord(node_id, "host", 4242, started, started)


def stamped(store: Store, value: datetime, at: datetime, before: datetime) -> bool:
    """Whether a lease time is `at`, or on PostgreSQL the database's time between `before`
    (taken before the call) and now: leases go by the database's clock there."""
    if on_postgresql(store):
        return before <= value <= store.database_now(at)
    return value == at


def test_nodes_register_heartbeat_and_stop(store: Store) -> None:
    before = store.database_now(at(5))
    store.register_node(node("late", at(5)))
    store.register_node(node("early", at(1)))
    assert [n.id for n in store.list_nodes()] == ["early", "late"]
    beat = store.database_now(at(6))
    assert store.heartbeat("early", at(6)) is True
    assert store.heartbeat("unknown", at(6)) is False
    store.stop_node("early", at(7))
    store.stop_node("early", at(8))  # the first exit is the one recorded
    store.stop_node("unknown", at(8))
    assert store.heartbeat("early", at(9)) is False
    early, late = store.list_nodes()
    assert stamped(store, early.heartbeat_at, at(6), beat)
    assert early.stopped_at == at(7)
    assert stamped(store, late.heartbeat_at, at(5), before)
    assert (late.stopped_at, late.host, late.pid) == (None, "host", 4242)


def test_database_now_is_the_callers_instant_except_on_postgresql(store: Store) -> None:
    if on_postgresql(store):
        now = datetime.now(UTC)
        there = store.database_now(at(1))
        assert there.tzinfo is UTC
        assert abs(there - now) < timedelta(minutes=5)  # the same machine's clock, here
    else:
        assert store.database_now(at(1)) == at(1)


def test_register_node_replaces_the_row_of_its_id(store: Store) -> None:
    store.register_node(node("n1", at(1)))
    store.stop_node("n1", at(2))
    before = store.database_now(at(3))
    store.register_node(NodeRecord("n1", "other", 7, at(3), at(3)))
    (again,) = store.list_nodes()
    assert (again.id, again.host, again.pid, again.started_at, again.stopped_at) == (
        "n1",
        "other",
        7,
        at(3),
        None,
    )
    assert stamped(store, again.heartbeat_at, at(3), before)
    assert store.heartbeat("n1", at(4)) is True


# -- times -----------------------------------------------------------------------------------


def test_times_come_back_as_aware_utc_with_microseconds(jobs: Store) -> None:
    plus_two = timezone(timedelta(hours=2))
    fire = datetime(2026, 3, 29, 3, 30, 0, 123456, tzinfo=plus_two)
    created = NewRun("a", Reason.RETRY, fire, fire_time=fire, not_before=fire)
    (run_id,) = jobs.apply([Enqueue(created)])
    jobs.apply([Claim(run_id, "n1", fire), Finish(run_id, RunStatus.SUCCEEDED, fire)])
    run = jobs.get_run(run_id)
    assert run is not None
    for value in (run.fire_time, run.queued_at, run.not_before, run.started_at, run.finished_at):
        assert value == fire
        assert value is not None
        assert value.tzinfo is UTC
        assert value.microsecond == 123456
        assert value.hour == 1
    (job,) = jobs.apply([UpdateJob("a", fire, next_fire_at=fire)])
    assert job.next_fire_at.tzinfo is UTC
    assert jobs.next_fire_times() == [(fire, "a")]
    assert jobs.next_fire_times()[0][0].tzinfo is UTC


@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.datetimes(
        min_value=datetime(1970, 1, 2),
        max_value=datetime(2200, 1, 1),
        timezones=st.timezones(),
    )
)
def test_any_aware_instant_round_trips(jobs: Store, instant: datetime) -> None:
    (run_id,) = jobs.apply([Enqueue(new("a", queued_at=instant))])
    run = jobs.get_run(run_id)
    assert run is not None
    # Compared in UTC: Python never finds a wall time in a DST gap or fold equal to an instant
    # of another zone (PEP 495), though astimezone gives it one.
    assert run.queued_at == instant.astimezone(UTC)
    assert run.queued_at.tzinfo is UTC


def test_later_instants_sort_later_whatever_their_zone(jobs: Store) -> None:
    # Stored as UTC text on SQLite: order must be the instants' order, not the wall clocks'.
    east = timezone(timedelta(hours=14))
    west = timezone(timedelta(hours=-12))
    jobs.sync_jobs({"a": {}, "b": {}, "c": {}}, T0)
    jobs.apply(
        [
            UpdateJob("a", T0, next_fire_at=datetime(2026, 1, 1, 20, 0, tzinfo=east)),  # 06:00Z
            UpdateJob("b", T0, next_fire_at=datetime(2026, 1, 1, 1, 0, tzinfo=west)),  # 13:00Z
            UpdateJob("c", T0, next_fire_at=datetime(2026, 1, 1, 9, 0, tzinfo=UTC)),
        ]
    )
    assert [name for _, name in jobs.next_fire_times()] == ["a", "c", "b"]


@pytest.mark.parametrize(
    ("operation", "field"),
    [
        (Enqueue(NewRun("a", Reason.MANUAL, datetime(2026, 1, 1))), r"run\.queued_at"),
        (Fire("a", datetime(2026, 1, 1), None), r"\(Fire\)\.expected"),
        (Fire("a", None, datetime(2026, 1, 1)), r"\(Fire\)\.next_fire_at"),
        (Claim(1, "n1", datetime(2026, 1, 1)), r"\(Claim\)\.at"),
        (UpdateJob("a", T0, next_fire_at=datetime(2026, 1, 1)), r"\(UpdateJob\)\.next_fire_at"),
    ],
)
def test_a_naive_datetime_is_refused(jobs: Store, operation: object, field: str) -> None:
    ok = Enqueue(new("a"))
    with pytest.raises(StoreError, match=field + r": 2026-01-01T00:00:00 has no time zone"):
        jobs.apply([ok, operation])  # type: ignore[list-item]
    assert jobs.count_runs() == 0
    assert jobs.get_job("a").next_fire_at is None  # type: ignore[union-attr]


def test_naive_datetimes_are_refused_outside_apply_too(store: Store) -> None:
    naive = datetime(2026, 1, 1)
    with pytest.raises(StoreError, match=r"sync_jobs\.at"):
        store.sync_jobs({"a": {}}, naive)
    with pytest.raises(StoreError, match=r"NodeRecord\.started_at"):
        store.register_node(node("n1", naive))
    with pytest.raises(StoreError, match=r"heartbeat\.at"):
        store.heartbeat("n1", naive)
    assert store.list_jobs() == []
    assert store.list_nodes() == []


# -- text ------------------------------------------------------------------------------------

NUL = "bad\x00byte"


@pytest.mark.parametrize(
    ("operation", "field"),
    [
        (Enqueue(NewRun("a", Reason.MANUAL, T0, note=NUL)), r"\(Enqueue\)\.run\.note"),
        (Fire("a", None, None, (NewRun(NUL, Reason.MANUAL, T0),)), r"\.runs\[0\]\.job"),
        (Claim(1, NUL, T0), r"\(Claim\)\.node"),
        (Finish(1, RunStatus.FAILED, T0, error=NUL), r"\(Finish\)\.error"),
        (Finish(1, RunStatus.FAILED, T0, log=NUL), r"\(Finish\)\.log"),
        (Finish(1, RunStatus.FAILED, T0, traceback=NUL), r"\(Finish\)\.traceback"),
        (Progress(1, None, None, NUL), r"\(Progress\)\.note"),
        (Progress(1, None, None, None, log=NUL), r"\(Progress\)\.log"),
        (RequestCancel(1, T0, NUL), r"\(RequestCancel\)\.note"),
        (InterruptRuns(("n1", NUL), T0, "died"), r"\(InterruptRuns\)\.nodes\[1\]"),
        (UpdateJob("a", T0, pause_note=NUL), r"\(UpdateJob\)\.pause_note"),
    ],
)
def test_text_with_a_nul_character_is_refused(jobs: Store, operation: object, field: str) -> None:
    # PostgreSQL cannot store NUL in text; every store refuses it alike, before writing.
    with pytest.raises(StoreError, match=field + r": 'bad\\x00byte' contains a NUL character"):
        jobs.apply([Enqueue(new("a")), operation])  # type: ignore[list-item]
    assert jobs.count_runs() == 0


def test_nul_characters_are_refused_outside_apply_too(store: Store) -> None:
    with pytest.raises(StoreError, match=r"sync_jobs: job name: 'bad\\x00byte' contains a NUL"):
        store.sync_jobs({NUL: {}}, T0)
    with pytest.raises(StoreError, match=r"NodeRecord\.host: 'bad\\x00byte' contains a NUL"):
        store.register_node(NodeRecord("n1", NUL, 1, T0, T0))
    assert store.list_jobs() == []
    assert store.list_nodes() == []


def test_json_keeps_a_nul_character(jobs: Store) -> None:
    # JSON spells it \u0000, which PostgreSQL's json type (unlike jsonb) keeps.
    run_id = enqueue(jobs, args={NUL: [NUL]})
    assert jobs.get_run(run_id).args == {NUL: [NUL]}  # type: ignore[union-attr]


# -- numbers ---------------------------------------------------------------------------------


def test_whole_numbers_beyond_the_columns_are_refused(jobs: Store) -> None:
    # attempt and pid are 32-bit columns on PostgreSQL; ids, limits and batches 64-bit.
    too_many = Enqueue(new("a", attempt=2**31))
    with pytest.raises(StoreError, match=r"run\.attempt: 2147483648 is more than 2147483647"):
        jobs.apply([Enqueue(new("a")), too_many])
    assert jobs.count_runs() == 0
    enqueue(jobs, attempt=2**31 - 1, retry_of=2**63 - 1)
    with pytest.raises(StoreError, match=r"run\.retry_of: 9223372036854775808 is more than"):
        jobs.apply([Enqueue(new("a", retry_of=2**63))])
    with pytest.raises(StoreError, match=r"NodeRecord\.pid: 2147483648 is more than 2147483647"):
        jobs.register_node(NodeRecord("n1", "host", 2**31, T0, T0))
    with pytest.raises(StoreError, match=r"limit: 9223372036854775808 is more than"):
        jobs.list_runs(limit=2**63)
    with pytest.raises(StoreError, match=r"prune\.batch: 9223372036854775808 is more than"):
        jobs.prune("a", Retention(), T0, 2**63)
    assert jobs.list_runs(limit=2**63 - 1)[0].attempt == 2**31 - 1


# -- all or nothing --------------------------------------------------------------------------


def test_apply_writes_nothing_when_an_operation_fails_midway(jobs: Store) -> None:
    queued = enqueue(jobs)
    active = running(jobs)
    before = (jobs.list_jobs(), jobs.list_runs(), jobs.next_fire_times())
    operations = [
        Fire("a", None, at(60), (new("a", 0), new("a", 1))),
        Claim(queued, "n1", at(2)),
        Progress(active, 1, 2, "half"),
        UpdateJob("b", at(2), paused=True),
        Enqueue(new("b")),
        # Fails when it runs, after everything above has been executed:
        Enqueue(new("not-a-job")),
        Finish(active, RunStatus.SUCCEEDED, at(3)),
    ]
    with pytest.raises(Exception, match="not-a-job"):
        jobs.apply(operations)
    assert (jobs.list_jobs(), jobs.list_runs(), jobs.next_fire_times()) == before
    # The ids the failed transaction used are free again on SQLite and in memory; PostgreSQL's
    # sequence never goes back, so there they are gaps that no run ever had.
    if on_postgresql(jobs):
        assert enqueue(jobs) == active + 3
    else:
        assert enqueue(jobs) == active + 1


def test_apply_of_nothing(store: Store) -> None:
    assert store.apply([]) == []


def test_apply_refuses_what_is_not_an_operation(jobs: Store) -> None:
    with pytest.raises(StoreError, match="operation 1: 'Claim' is not a store operation"):
        jobs.apply([Enqueue(new("a")), "Claim"])  # type: ignore[list-item]
    assert jobs.count_runs() == 0


# -- open and close --------------------------------------------------------------------------


def test_a_closed_store_refuses_use_and_reopens_with_its_data(jobs: Store) -> None:
    run_id = enqueue(jobs)
    jobs.close()
    with pytest.raises(StoreError, match=r"is not open: call open\(\) first"):
        jobs.get_run(run_id)
    with pytest.raises(StoreError, match="is not open"):
        jobs.apply([Enqueue(new("a"))])
    jobs.open()
    jobs.open()  # opening an open store is harmless
    assert jobs.get_run(run_id) is not None
    assert [job.name for job in jobs.list_jobs()] == ["a", "b"]


def test_a_memory_store_is_not_open_until_opened() -> None:
    with pytest.raises(StoreError, match="memory://"):
        MemoryStore().list_jobs()


# -- threads ---------------------------------------------------------------------------------


def test_concurrent_writers_and_readers(jobs: Store) -> None:
    errors: list[BaseException] = []
    ids: list[int] = []
    lock = threading.Lock()

    def write(worker: int) -> None:
        try:
            for i in range(20):
                (run_id,) = jobs.apply([Enqueue(new("a", worker * 100 + i))])
                jobs.apply([Claim(run_id, f"n{worker}", at(1))])
                with lock:
                    ids.append(run_id)
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    def read() -> None:
        try:
            for _ in range(20):
                jobs.list_runs(limit=10)
                jobs.active_runs()
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=write, args=(w,)) for w in range(4)]
    threads += [threading.Thread(target=read) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(set(ids)) == 80
    assert jobs.count_runs() == 80
    assert {run.status for run in jobs.active_runs()} == {RunStatus.RUNNING}
