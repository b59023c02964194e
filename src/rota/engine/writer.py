"""One writer thread for the store, batching whatever piles up while it writes.

Every store call the engine makes goes through here, in submission order. While one transaction is
being written, new operations queue up, and the next transaction takes them all: under load the
store sees few large transactions; when idle, each change is written at once.

The thread takes its work from a queue of its own and starts the next transaction as soon as
one commits; results go back to the event loop in one callback per transaction. (Through an
executor, every transaction waited for the loop to hand it over and the store idled meanwhile.)
"""

from __future__ import annotations

import asyncio
import functools
import logging
import threading
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from rota.errors import StoreUnavailableError
from rota.store.abc import Store
from rota.store.operations import Operation

__all__ = ["Writer"]

log = logging.getLogger("rota.engine")
T = TypeVar("T")


@dataclass
class _Item:
    """Operations to apply (batched with their neighbours), or a call to make alone."""

    future: asyncio.Future[Any]
    operations: Sequence[Operation] = ()
    call: Callable[[], Any] | None = None


class Writer:
    """Serialises the engine's store access on one thread; see the module docstring."""

    def __init__(self, store: Store, name: str = "rota-store") -> None:
        self.store = store
        self._items: deque[_Item] = deque()
        self._ready = threading.Condition()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    async def apply(self, operations: Sequence[Operation]) -> list[Any]:
        """Apply operations (in one transaction with whatever else is waiting); their results."""
        if not operations:
            return []
        return await self._submit(_Item(self._future(), operations=operations))  # type: ignore[no-any-return]

    async def call(self, function: Callable[..., T], *args: Any) -> T:
        """Run another store method on the writer thread, in order with the writes."""
        return await self._submit(_Item(self._future(), call=lambda: function(*args)))  # type: ignore[no-any-return]

    async def drain(self) -> None:
        """Wait until everything submitted so far is written."""
        await self.call(lambda: None)

    def close(self) -> None:
        """Stop the writer thread once it has written what it was given."""
        with self._ready:
            self._closed = True
            self._ready.notify()
        self._thread.join()

    @staticmethod
    def _future() -> asyncio.Future[Any]:
        return asyncio.get_running_loop().create_future()

    async def _submit(self, item: _Item) -> Any:
        with self._ready:
            if self._closed:
                raise RuntimeError("the store writer is closed")
            self._items.append(item)
            self._ready.notify()
        return await item.future

    # -- the thread ---------------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            with self._ready:
                while not self._items and not self._closed:
                    self._ready.wait()
                if not self._items:
                    return
                if self._items[0].call is not None:
                    batch = [self._items.popleft()]
                else:  # every apply up to the next call, in one transaction
                    batch = []
                    while self._items and self._items[0].call is None:
                        batch.append(self._items.popleft())
            self._write(batch)

    def _write(self, batch: list[_Item]) -> None:
        outcomes: list[tuple[_Item, Any, BaseException | None]] = []
        first = batch[0]
        if first.call is not None:
            outcomes.append(_attempt(first, first.call))
        else:
            operations = [operation for item in batch for operation in item.operations]
            try:
                results = self.store.apply(operations)
            except StoreUnavailableError as error:
                # Not a group's fault, and the batch may have committed: writing the groups
                # again could write them twice. Each caller decides what to try again.
                outcomes.extend((item, None, error) for item in batch)
            except Exception:
                # One group's failure must not fail the others: write each group alone.
                for item in batch:
                    outcomes.append(
                        _attempt(item, functools.partial(self.store.apply, item.operations))
                    )
            else:
                start = 0
                for item in batch:
                    end = start + len(item.operations)
                    outcomes.append((item, results[start:end], None))
                    start = end
        loop = first.future.get_loop()
        if not loop.is_closed():
            loop.call_soon_threadsafe(_settle, outcomes)


def _attempt(item: _Item, work: Callable[[], Any]) -> tuple[_Item, Any, BaseException | None]:
    try:
        return item, work(), None
    except Exception as error:
        return item, None, error


def _settle(outcomes: list[tuple[_Item, Any, BaseException | None]]) -> None:
    for item, result, error in outcomes:
        if item.future.done():  # its caller was cancelled meanwhile
            continue
        if error is not None:
            item.future.set_exception(error)
        else:
            item.future.set_result(result)
