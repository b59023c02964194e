"""The job threads: bounded, reused, and never keeping the process alive."""

from __future__ import annotations

import threading
from concurrent.futures import CancelledError

import pytest

from rota.engine.threads import JobThreads


def test_at_most_size_threads_run_at_once_and_are_reused() -> None:
    pool = JobThreads(2)
    gate, inside = threading.Event(), threading.Semaphore(0)
    seen: set[str] = set()

    def work() -> str:
        seen.add(threading.current_thread().name)
        inside.release()
        gate.wait(10)
        return threading.current_thread().name

    futures = [pool.submit(work) for _ in range(5)]
    assert inside.acquire(timeout=10)
    assert inside.acquire(timeout=10)
    assert not inside.acquire(timeout=0.05)  # a third waits for a thread
    gate.set()
    names = {future.result(timeout=10) for future in futures}
    assert names == seen
    assert len(names) == 2
    assert all(t.daemon for t in threading.enumerate() if t.name in names)
    pool.shutdown()


def test_errors_are_the_futures_and_shutdown_drops_work_not_started() -> None:
    pool = JobThreads(1)
    gate = threading.Event()
    first = pool.submit(gate.wait, 10)
    failing = pool.submit(lambda: 1 / 0)
    pool.shutdown(wait=False, cancel_futures=True)
    gate.set()
    assert first.result(timeout=10) is True
    with pytest.raises(CancelledError):
        failing.result(timeout=10)
    with pytest.raises(RuntimeError, match="shut down"):
        pool.submit(print)


def test_an_exception_is_set_on_the_future() -> None:
    pool = JobThreads(1)
    with pytest.raises(ZeroDivisionError):
        pool.submit(lambda: 1 / 0).result(timeout=10)
    pool.shutdown()
