"""``GET /api/events``: every committed event as a server-sent event (``id:`` the event's id,
``event:`` its kind, ``data:`` its JSON), following `Rota.events` from the store, so events
written by any process (an engine in another process, another node) arrive.

A client that reconnects sends ``Last-Event-ID`` (browsers do it themselves) and gets every
event after it that is still retained; ``?after=ID`` does the same for a first connection, and
``after=0`` starts from the oldest kept. Without either the stream starts from now. A comment
line is sent every `heartbeat` seconds so that proxies keep an idle stream open. The stream ends
when the client goes away (also in the middle of a backlog), and when the server stops
(sse-starlette hears uvicorn's exit).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request
from sse_starlette import EventSourceResponse, ServerSentEvent

from rota.app import Rota
from rota.errors import SettingError
from rota.service.deps import RotaDep
from rota.service.schemas import MAX_ID, EventOut

__all__ = ["router"]

router = APIRouter(tags=["events"])

_DESCRIPTION = (
    "A `text/event-stream`: for each event, `id:` its id, `event:` its kind "
    "(`run.finished`, ...), `data:` an `EventOut` as JSON; comment lines (`: heartbeat`) "
    "keep an idle stream open."
)


@router.get(
    "/events",
    summary="Follow events",
    response_class=EventSourceResponse,
    responses={
        200: {
            "description": _DESCRIPTION,
            "content": {
                "text/event-stream": {
                    "schema": {"type": "string"},
                    "example": 'id: 17\nevent: run.started\ndata: {"id": 17, ...}\n\n',
                }
            },
        }
    },
)
async def events(
    request: Request,
    rota: RotaDep,
    after: Annotated[
        int | None, Query(ge=0, le=MAX_ID, description="Start after this event id.")
    ] = None,
    last_event_id: Annotated[
        str | None,
        Header(alias="Last-Event-ID", description="Sent by a reconnecting client.", max_length=40),
    ] = None,
) -> EventSourceResponse:
    """Every committed event from now on (or after `Last-Event-ID` / `after`)."""
    start = after
    if last_event_id is not None and last_event_id.strip():
        text = last_event_id.strip()
        if not text.isdigit() or int(text) > MAX_ID:
            raise SettingError("Last-Event-ID", text[:40], "is not an event id (a whole number)")
        start = int(text)
    heartbeat: float = request.app.state.rota_heartbeat
    return EventSourceResponse(
        _stream(rota, start),
        ping=heartbeat,
        ping_message_factory=lambda: ServerSentEvent(comment="heartbeat"),
        sep="\n",
    )


async def _stream(rota: Rota, after: int | None) -> AsyncIterator[ServerSentEvent]:
    # aclosing: when the client goes, the follower (and its store listener) ends now, not
    # whenever the generator is collected.
    async with contextlib.aclosing(rota.events(after=after)) as followed:
        async for event in followed:
            yield ServerSentEvent(
                data=EventOut.of(event).model_dump_json(),
                event=event.kind.value,
                id=str(event.id),
            )
            # A backlog comes in batches of hundreds with no wait between its events: give the
            # loop a turn after each, so that a client gone is heard (uvicorn stops writing,
            # sse-starlette ends the stream) before the rest is sent to a closed socket, each
            # send logging "socket.send() raised exception.".
            await asyncio.sleep(0)
