"""Jobs for tests/engine/test_isolation.py: their process imports them by path."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import time
from pathlib import Path

from rota import Retry, Skip
from rota.engine.context import RunContext


def report(ctx: RunContext, items: int) -> object:
    """Progress, `ctx.log` and the job's own logging, then a result that does not pickle."""
    for done in range(1, items + 1):
        ctx.progress(done, items, f"item {done}")
    ctx.log.info("run %s in process %s", ctx.run.id, os.getpid())
    logging.getLogger("isolated.library").warning("own logging, attempt %s", ctx.run.attempt)
    try:
        ctx.progress(True)
    except ValueError as error:  # checked in the child, as in a thread
        ctx.log.info("refused: %s", error)
    return lambda: None


def end(how: str) -> None:
    """Ends as told: raise Skip, Retry or an error, or die."""
    if how == "skip":
        raise Skip("nothing to scan")
    if how == "retry":
        raise Retry(after="5m")
    if how == "raise":
        raise KeyError("library")
    if how == "exit":
        os._exit(3)
    if how == "segfault":
        os.kill(os.getpid(), signal.SIGSEGV)


async def wait_async(ctx: RunContext) -> None:
    """An async job, run with asyncio.run in its process."""
    await asyncio.sleep(0)
    ctx.log.warning("async in process %s", os.getpid())


def hang(ctx: RunContext, marker: str, ignore_sigterm: bool = False) -> None:
    """Says its pid in the progress note, then sleeps for an hour; on its way out (SIGTERM)
    writes what `ctx.cancelled` was to `marker`."""
    if ignore_sigterm:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    ctx.progress(0, note=str(os.getpid()))
    try:
        time.sleep(3600)
    finally:
        Path(marker).write_text(f"cancelled={ctx.cancelled}")
