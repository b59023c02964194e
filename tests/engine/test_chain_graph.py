"""The chain check as a pure function: a job after itself, after an unknown job, or in a cycle
is named; a graph without them passes, whatever its shape."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from rota.engine.chains import chain_problem, downstream_of


def test_problems_are_named() -> None:
    assert chain_problem({"a": ("a",)}, {"a"}) == ("a", "job 'a' is after itself")
    assert chain_problem({"a": ("x",)}, {"a"}) == (
        "a",
        "job 'a' is after 'x', and there is no job 'x'",
    )
    graph = {"b": ("a",), "c": ("b",), "a": ("c",), "d": ("a",)}
    assert chain_problem(graph, "abcd") == ("a", "the chain is a cycle: a → b → c → a")
    assert chain_problem(graph, "abcd", first="c") == ("c", "the chain is a cycle: c → a → b → c")


def test_a_diamond_is_no_cycle() -> None:
    graph = {"b": ("a",), "c": ("a",), "d": ("b", "c")}
    assert chain_problem(graph, "abcd") is None
    assert downstream_of(graph, "a") == ("b", "c")


@given(st.lists(st.tuples(st.integers(0, 7), st.integers(0, 7)), max_size=20))
def test_edges_that_only_point_back_in_order_never_make_a_cycle(
    pairs: list[tuple[int, int]],
) -> None:
    graph: dict[str, tuple[str, ...]] = {}
    for low, high in pairs:
        if low < high:
            graph[f"j{high}"] = (*graph.get(f"j{high}", ()), f"j{low}")
    assert chain_problem(graph, {f"j{i}" for i in range(8)}) is None
    if graph:
        # Closing any one of them back on itself makes a cycle, and it is found.
        job, upstream = next(iter(graph.items()))
        looped = {**graph, upstream[0]: (*graph.get(upstream[0], ()), job)}
        found = chain_problem(looped, {f"j{i}" for i in range(8)})
        assert found is not None
        assert "cycle" in found[1]


@given(st.lists(st.sampled_from(["a", "b", "c"]), max_size=40))
def test_a_job_after_several_runs_once_each_time_all_have_succeeded_since_its_last_run(
    successes: list[str],
) -> None:
    from datetime import UTC, datetime

    from rota.store.chains import EdgeState, chain_step

    row = ({"schedule": {"kind": "after", "jobs": ["a", "b", "c"]}, "overlap": "allow"}, {}, False)
    edges: dict[str, EdgeState] = {}
    runs, seen, expected = 0, set(), 0
    for run_id, job in enumerate(successes, start=1):
        step = chain_step("d", row, edges, job, run_id, datetime(2026, 1, 1, tzinfo=UTC), [])
        assert step is not None
        edges.update(step.edges)
        if step.run is not None:
            runs += 1
            # The run names the newest success of each upstream job.
            assert set(step.upstream_runs) == {"a", "b", "c"}
            assert step.upstream_runs[job] == run_id
        seen.add(job)
        if seen == {"a", "b", "c"}:
            expected, seen = expected + 1, set()
    assert runs == expected
