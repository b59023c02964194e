"""A run another process queues while a node is starting is run: the node's read of the queued
runs and its listening for new ones leave no gap between them (a lone node does not poll)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from rota import Rota
from rota.store import open_store
from rota.store.operations import Enqueue, NewRun
from rota.store.records import Reason, RunStatus
from rota.testing import FakeClock
from tests.engine.conftest import eventually


async def test_a_run_queued_while_the_node_starts_to_listen_is_run(
    rotas: Callable[..., Rota],
    database_url: str,
    clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rota = rotas()
    rota.job("sync")(lambda: None)
    queued: list[int] = []
    listen = rota.store.listen

    def listen_after_another_process_queued_a_run(callback: Callable[[str], None]) -> Any:
        store = open_store(database_url)  # another store object: its commits are not told
        store.open()
        try:
            queued.extend(store.apply([Enqueue(NewRun("sync", Reason.MANUAL, clock.now()))]))
        finally:
            store.close()
        return listen(callback)

    monkeypatch.setattr(rota.store, "listen", listen_after_another_process_queued_a_run)
    await rota.start_async()
    assert len(queued) == 1
    await eventually(lambda: rota.get_run(queued[0]).status is RunStatus.SUCCEEDED)
