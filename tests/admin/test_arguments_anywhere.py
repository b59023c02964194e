"""A run's arguments are checked the same in every process: one with the job's code checks them
against the function, one without it (an admin client, the CLI on the database) against the
parameters the job's node stored with the job."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from rota import Rota, SettingError
from rota.store.records import RunStatus
from tests.engine.conftest import outcome

MakeRota = Callable[..., Rota]


def scan(library: str, deep: bool = False) -> str:
    """Scan one library."""
    return library


def anything(**options: Any) -> int:
    """Takes any keyword arguments."""
    return len(options)


def refusal(rota: Rota, name: str, **args: Any) -> str:
    with pytest.raises(SettingError) as raised:
        rota.run_now(name, **args)
    return str(raised.value)


async def test_a_process_without_the_code_refuses_bad_arguments_as_the_node_does(
    rotas: MakeRota,
) -> None:
    node = rotas()
    node.job("scan")(scan)
    await node.start_async()
    admin = rotas()  # no jobs: a plain admin client on the same store

    unknown = refusal(admin, "scan", library="films", nope=1)
    assert "no parameter 'nope'" in unknown
    assert "takes deep, library" in unknown
    assert unknown == refusal(node, "scan", library="films", nope=1)
    missing = refusal(admin, "scan")
    assert "needs a value for parameter 'library'" in missing
    assert missing == refusal(node, "scan")
    with pytest.raises(SettingError, match="no parameter 'colour'"):
        admin.override("scan", args={"colour": "red"})
    with pytest.raises(SettingError, match="no parameter 'nope'"):
        admin.enqueue("scan", nope=1)
    assert admin.runs("scan") == []  # nothing was queued by a refused call

    run = await outcome(node, admin.run_now("scan", library="films", deep=True))
    assert run.status is RunStatus.SUCCEEDED, run


async def test_a_job_taking_any_keyword_is_refused_nothing_elsewhere(rotas: MakeRota) -> None:
    node = rotas()
    node.job("anything")(anything)
    await node.start_async()
    admin = rotas()
    run = await outcome(node, admin.run_now("anything", colour="red", size=3))
    assert run.status is RunStatus.SUCCEEDED, run


async def test_a_changed_function_changes_the_check_elsewhere(rotas: MakeRota) -> None:
    old = rotas()
    old.job("scan")(scan)
    await old.start_async()
    await old.stop_async(grace=0)
    new = rotas()
    new.job("scan")(anything)  # the next release's code takes anything
    await new.start_async()
    admin = rotas()
    run = await outcome(new, admin.run_now("scan", colour="red"))
    assert run.status is RunStatus.SUCCEEDED, run


async def test_the_parameters_are_not_shown_among_the_settings(rotas: MakeRota) -> None:
    node = rotas()
    node.job("scan")(scan)
    await node.start_async()
    assert "parameters" not in rotas().job_info("scan").defaults


async def test_a_job_added_at_run_time_is_checked_where_its_module_does_not_import(
    rotas: MakeRota, monkeypatch: pytest.MonkeyPatch
) -> None:
    rotas().add_job("feed", "tests.admin.jobs_for_tests:fetch_feed")
    admin = rotas()

    def not_here(path: object) -> None:
        raise SettingError("function", str(path), "cannot be imported: not in this process")

    monkeypatch.setattr("rota.admin.commands.load_target", not_here)
    with pytest.raises(SettingError, match=r"no parameter 'colour'.*takes limit, url"):
        admin.run_now("feed", url="u", colour="red")
    with pytest.raises(SettingError, match="needs a value for parameter 'url'"):
        admin.run_now("feed")
    assert admin.run_now("feed", url="u") >= 1
