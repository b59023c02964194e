"""Every committed change as an event, on an in-process bus that the service serves as SSE."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

# One list of kinds for the bus and the store's events table (decision 0006).
from rota.store.records import EventKind

__all__ = ["Event", "EventBus", "EventKind", "Subscription"]


@dataclass(frozen=True)
class Event:
    """A committed change: published only after its transaction committed."""

    kind: EventKind
    at: datetime
    job: str | None = None
    run_id: int | None = None
    data: dict[str, Any] = field(default_factory=dict)


class Subscription:
    """One subscriber's bounded queue. A subscriber that falls behind loses the oldest events
    and is told how many with a `lagged` count, rather than slowing the engine down."""

    def __init__(self, bus: EventBus, size: int) -> None:
        self._bus = bus
        self._queue: asyncio.Queue[Event] = asyncio.Queue(maxsize=size)
        self.lagged = 0

    def _put(self, event: Event) -> None:
        if self._queue.full():
            self._queue.get_nowait()
            self.lagged += 1
        self._queue.put_nowait(event)

    async def get(self) -> Event:
        """The next event, waiting for one."""
        return await self._queue.get()

    def get_nowait(self) -> Event | None:
        """The next event if one is waiting."""
        try:
            return self._queue.get_nowait()
        except asyncio.QueueEmpty:
            return None

    def close(self) -> None:
        """Stop receiving events."""
        self._bus._subscribers.discard(self)

    async def __aiter__(self) -> AsyncIterator[Event]:
        while True:
            yield await self.get()


class EventBus:
    """Publish from the engine's loop; subscribe from coroutines on the same loop."""

    def __init__(self) -> None:
        self._subscribers: set[Subscription] = set()

    def subscribe(self, size: int = 1000) -> Subscription:
        """A new subscription that receives every event published from now on."""
        subscription = Subscription(self, size)
        self._subscribers.add(subscription)
        return subscription

    def publish(self, event: Event) -> None:
        """Hand an event to every subscriber (never blocks)."""
        for subscription in tuple(self._subscribers):
            subscription._put(event)
