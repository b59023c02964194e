"""The threads sync jobs run in: a bounded pool whose threads never keep the process alive.

Python joins every `ThreadPoolExecutor` thread at exit, so one sync job that never returns kept a
stopped app from exiting (a container platform then kills it after its grace, 10 s). A stop
records such a run interrupted; its thread is a daemon here, and ends with the process.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from concurrent.futures import Executor, Future
from typing import Any, TypeVar

__all__ = ["JobThreads"]

T = TypeVar("T")
_Work = tuple[Future[Any], Callable[..., Any], tuple[Any, ...], dict[str, Any]]


class JobThreads(Executor):
    """At most `size` daemon threads, started as work comes and kept for the next."""

    def __init__(self, size: int, name: str = "rota-job") -> None:
        self._size = size
        self._name = name
        self._queue: queue.SimpleQueue[_Work | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._idle = 0
        self._closed = False

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        """Run `fn(*args, **kwargs)` in one of the threads; its future."""
        future: Future[T] = Future()
        with self._lock:
            if self._closed:
                raise RuntimeError("rota's job threads are shut down")
            self._queue.put((future, fn, args, kwargs))
            if self._idle:
                self._idle -= 1  # that thread takes this work
            elif len(self._threads) < self._size:
                thread = threading.Thread(
                    target=self._work, name=f"{self._name}-{len(self._threads)}", daemon=True
                )
                self._threads.append(thread)
                thread.start()
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Take no more work; drop work not started with `cancel_futures`; with `wait`, wait
        for the threads (never at a stop: a job that does not return would block it)."""
        with self._lock:
            self._closed = True
            threads = list(self._threads)
        if cancel_futures:
            while True:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is not None:
                    item[0].cancel()
        for _ in threads:
            self._queue.put(None)
        if wait:
            for thread in threads:
                thread.join()

    def _work(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            future, fn, args, kwargs = item
            if future.set_running_or_notify_cancel():
                try:
                    result = fn(*args, **kwargs)
                except BaseException as error:  # the job's outcome, whatever it is
                    future.set_exception(error)
                else:
                    future.set_result(result)
            with self._lock:
                self._idle += 1
