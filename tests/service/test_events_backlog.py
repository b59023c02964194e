"""A client that goes while /api/events replays a long backlog (after ``Last-Event-ID``): the
stream ends at once, without the server logging a failed send for each event left."""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from rota import Rota, asgi
from rota.store.operations import Enqueue, NewRun
from rota.store.records import EventRecord, Reason
from tests.service.conftest import ADMIN
from tests.service.server import Stream, client, serving, until

BACKLOG = 5000


def test_a_client_gone_during_a_backlog_ends_the_stream_quietly(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    rota = Rota(f"sqlite:///{tmp_path}/rota.db", timezone="UTC")
    rota.job("echo")(lambda: None)
    first = rota.run_now("echo")
    now = rota.clock.now()
    rota.store.apply([Enqueue(NewRun("echo", Reason.MANUAL, now)) for _ in range(BACKLOG)])
    assert first >= 1
    ended = threading.Event()
    served = [0]
    follow = rota.events

    async def followed(*args: Any, **kwargs: Any) -> AsyncIterator[EventRecord]:
        try:
            async for event in follow(*args, **kwargs):
                served[0] += 1
                yield event
        finally:
            ended.set()

    rota.events = followed  # type: ignore[method-assign]
    app = asgi(rota, admin_token=ADMIN, token_file=tmp_path / "token", heartbeat=0.2)
    caplog.set_level(logging.DEBUG)
    with serving(app, log_level="info") as server, client(server, ADMIN) as http:
        stream = Stream(http, "/api/events", {"Last-Event-ID": "0"})
        for _ in range(3):
            stream.next_event()
        stream.close()
        until(ended.is_set, "the stream's generator to end")
    rota.close()
    failed_sends = [r for r in caplog.records if "socket.send() raised" in r.getMessage()]
    # Before the fix: one for each event left in the batch of 500 being replayed.
    assert len(failed_sends) <= 1, f"{len(failed_sends)} failed sends logged"
    assert served[0] >= 3
