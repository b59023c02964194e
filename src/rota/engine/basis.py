"""What every part of a node works with: its id, the store and the one writer to it, the clock,
and the outage log; and writes that outlast an outage.

The scheduler (`core.Engine`), the worker and the node's life among others (`nodes.NodeLife`)
each take this and the few collaborators they need, never each other whole.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from rota.clock import Clock
from rota.engine.outage import Outage, pause_after
from rota.engine.writer import Writer
from rota.errors import StoreUnavailableError
from rota.store.abc import Store
from rota.store.operations import Lease, Operation

__all__ = ["Basis", "Tenure"]

log = logging.getLogger("rota.engine")


@dataclass
class Tenure:
    """This node's lease as it knows it (decision 0007): the generation its registration got
    (0 before the first), and when it last renewed it, by the engine's clock."""

    generation: int = 0
    renewed_at: datetime | None = None
    lease: timedelta = timedelta(seconds=60)

    def stale(self, now: datetime) -> bool:
        """Whether a whole lease passed since it was last renewed (a pause, a stepped clock):
        other nodes may have taken its runs, so it starts none before it renews."""
        return self.renewed_at is not None and now - self.renewed_at >= self.lease


@dataclass(frozen=True)
class Basis:
    """A node's id and means (see the module docstring)."""

    node_id: str
    store: Store
    writer: Writer
    clock: Clock
    outage: Outage
    tenure: Tenure = field(default_factory=Tenure)

    def lease(self) -> Lease | None:
        """The fencing token of the node's current life (None before it registered)."""
        generation = self.tenure.generation
        return Lease(self.node_id, generation) if generation else None

    async def pause(self, failures: int, stopping: asyncio.Event) -> None:
        """Wait before trying the store again after `failures` failures; `stopping` cuts the
        wait short."""
        clock = self.clock
        pause = asyncio.ensure_future(clock.sleep_until(clock.now() + pause_after(failures)))
        stopped = asyncio.ensure_future(stopping.wait())
        try:
            await asyncio.wait([pause, stopped], return_when=asyncio.FIRST_COMPLETED)
        finally:
            pause.cancel()
            stopped.cancel()

    async def persist(
        self,
        what: str,
        operations: Sequence[Operation],
        stopping: asyncio.Event,
        *,
        keep: int = 1,
    ) -> list[Any] | None:
        """Apply `operations`, trying again while the store cannot be reached. A broken attempt
        may have committed, so after one only the first `keep` operations are tried again (its
        caller writes what depends on them once it knows; operations that are safe to repeat
        with the first, such as a finish's `Chain`, are kept with it). None if given up
        (stopping, and the store stays away); another error propagates."""
        failures = 0
        while True:
            try:
                results = await self.writer.apply(operations)
            except StoreUnavailableError as error:
                failures += 1
                self.outage.failed(what, error, self.clock.now())
                if stopping.is_set() and failures >= 3:
                    log.error("rota stops without %s: the store cannot be reached", what)
                    return None
                await self.pause(failures, stopping)
                operations = operations[:keep]
                continue
            if failures:
                self.outage.answered(self.clock.now())
            return results
