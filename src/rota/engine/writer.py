"""One writer thread for the store, batching whatever piles up while it writes.

Every store call the engine makes goes through here, in submission order. While one transaction is
being written, new operations queue up, and the next transaction takes them all: under load the
store sees few large transactions; when idle, each change is written at once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from rota.store.abc import Operation, Store

__all__ = ["Writer"]

log = logging.getLogger("rota.engine")
T = TypeVar("T")


class Writer:
    """Serialises the engine's store access on one thread; see the module docstring."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="rota-store")
        self._pending: list[tuple[Sequence[Operation], asyncio.Future[list[Any]]]] = []
        self._flushing: asyncio.Task[None] | None = None

    async def apply(self, operations: Sequence[Operation]) -> list[Any]:
        """Apply operations (in one transaction with whatever else is waiting); their results."""
        if not operations:
            return []
        future: asyncio.Future[list[Any]] = asyncio.get_running_loop().create_future()
        self._pending.append((operations, future))
        if self._flushing is None or self._flushing.done():
            self._flushing = asyncio.create_task(self._flush(), name="rota-store-writer")
        return await future

    async def call(self, function: Callable[..., T], *args: Any) -> T:
        """Run another store method on the writer thread, in order with the writes."""
        await self.drain()
        return await asyncio.get_running_loop().run_in_executor(self._executor, function, *args)

    async def drain(self) -> None:
        """Wait until everything submitted so far is written."""
        while self._flushing is not None and not self._flushing.done():
            await asyncio.shield(self._flushing)

    async def _flush(self) -> None:
        loop = asyncio.get_running_loop()
        while self._pending:
            batch, self._pending = self._pending, []
            operations = [operation for group, _ in batch for operation in group]
            try:
                results = await loop.run_in_executor(self._executor, self.store.apply, operations)
            except Exception as error:
                if len(batch) == 1:
                    batch[0][1].set_exception(error)
                else:
                    await self._apply_alone(batch)
                continue
            start = 0
            for group, future in batch:
                if not future.done():
                    future.set_result(results[start : start + len(group)])
                start += len(group)

    async def _apply_alone(
        self, batch: list[tuple[Sequence[Operation], asyncio.Future[list[Any]]]]
    ) -> None:
        """One group's failure must not fail the others: write each group alone."""
        loop = asyncio.get_running_loop()
        for group, future in batch:
            try:
                result = await loop.run_in_executor(self._executor, self.store.apply, group)
            except Exception as error:
                future.set_exception(error)
            else:
                future.set_result(result)

    def close(self) -> None:
        """Stop the writer thread (after `drain`)."""
        self._executor.shutdown(wait=True)
