"""A rota app with an engine, run as a process of its own by tests/e2e/test_admin_processes.py,
which administers it from another process (decision 0006).

    python tests/e2e/admin_app.py URL MARKS

URL is the store's (a SQLite file, or a PostgreSQL schema named by libpq's options). The jobs
leave marks, files in the directory MARKS, so that the test sees what a job did as well as what
rota recorded:

- ``slow(seconds=30)``, manual: writes ``slow-ID.started``, then waits while checking
  ``ctx.cancelled`` every 10 ms, and writes ``slow-ID.stopped`` (cancelled, timed out, or the
  node stopping) or ``slow-ID.done`` (its time is up);
- ``greet(name, times=1)``, manual, `name` required: writes ``greet-ID.json`` with its arguments;
- ``tick``, every second; ``report``, daily at 03:00 UTC: they do nothing;
- ``look``, manual: writes ``look-ID.json``, which jobs this process's `rota.jobs()` says are in
  code: what the running app reports, asked from inside it.

It uses the real system clock, logs to stderr, says ``admin_app: started`` once its engine runs,
stops cleanly on SIGTERM (grace 1 s) and dumps every thread's stack on SIGUSR1.
"""

from __future__ import annotations

import faulthandler
import json
import logging
import os
import signal
import sys
import threading
import time
from pathlib import Path

from rota import Rota, RunContext

url, marks = sys.argv[1], Path(sys.argv[2])
logging.basicConfig(
    level=logging.INFO,
    stream=sys.stderr,
    format=f"%(asctime)s [{os.getpid()}] %(threadName)s %(levelname)s %(name)s: %(message)s",
)
logging.getLogger("alembic").setLevel(logging.WARNING)
rota = Rota(url, timezone="UTC", shutdown_grace=1)


def mark(name: str, content: object = "") -> None:
    """Write a mark atomically: the test never reads half of one."""
    part = marks / f".{name}.part"
    part.write_text(json.dumps(content))
    part.rename(marks / name)


@rota.job("slow")
def slow(ctx: RunContext, seconds: float = 30) -> None:
    """Wait, checking ctx.cancelled."""
    mark(f"slow-{ctx.run.id}.started")
    deadline = time.monotonic() + seconds
    while not ctx.cancelled and time.monotonic() < deadline:
        time.sleep(0.01)
    mark(f"slow-{ctx.run.id}.{'stopped' if ctx.cancelled else 'done'}")


@rota.job("greet")
def greet(ctx: RunContext, name: str, times: int = 1) -> None:
    """Greet someone: a job with a required parameter."""
    mark(f"greet-{ctx.run.id}.json", {"name": name, "times": times})


@rota.job("tick", schedule="every 1s")
def tick() -> None:
    """Every second."""


@rota.job("report", schedule="daily 03:00")
def report() -> None:
    """Once a day."""


@rota.job("look")
def look(ctx: RunContext) -> None:
    """What this running app reports of its jobs."""
    mark(f"look-{ctx.run.id}.json", {job.name: job.in_code for job in rota.jobs()})


faulthandler.register(signal.SIGUSR1, all_threads=True)
stopping = threading.Event()
signal.signal(signal.SIGTERM, lambda *_: stopping.set())
rota.start()
logging.getLogger("admin_app").info("started")
while not stopping.wait(0.05):
    pass
rota.stop()
logging.getLogger("admin_app").info("stopped")
