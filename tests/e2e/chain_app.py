"""One rota node on PostgreSQL with a chain of four jobs, run as a process of its own by
tests/e2e/test_chains_postgres.py.

    python tests/e2e/chain_app.py URL

sync → embeddings → recommendations → library-build, each `after` the one before, each run
taking a moment (so that runs are in flight when the test kills the node) and then inserting a
row into the test's own `effects` table (job, run id, attempt, pid). Every job allows many runs at
once and retries an interrupted run. The node runs until SIGTERM (then it stops cleanly) or
until it is killed; it logs to stderr.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time
from typing import Any

import psycopg
from sqlalchemy.engine import make_url

from rota import Retry, Rota

url = sys.argv[1]
logging.basicConfig(
    level=logging.INFO,
    stream=sys.stderr,
    format=f"%(asctime)s [{os.getpid()}] %(threadName)s %(levelname)s %(name)s: %(message)s",
)
logging.getLogger("alembic").setLevel(logging.WARNING)
parsed = make_url(url)
conninfo = parsed.set(drivername="postgresql").render_as_string(hide_password=False)
rota = Rota(url, timezone="UTC", workers=8, heartbeat=0.5, lease=10)
connections = threading.local()


def job(ctx: Any) -> None:
    """Take a while (in 10 ms steps, stopping if rota gives the run up), then leave a mark."""
    for _ in range(30):
        if ctx.cancelled:
            return
        time.sleep(0.01)
    connection: psycopg.Connection[Any] | None = getattr(connections, "connection", None)
    if connection is None or connection.closed:
        connection = connections.connection = psycopg.connect(
            conninfo, autocommit=True, connect_timeout=5
        )
    connection.execute(
        "INSERT INTO effects (job, run_id, attempt, pid) VALUES (%s, %s, %s, %s)",
        (ctx.run.job, ctx.run.id, ctx.run.attempt, os.getpid()),
    )


CHAIN = ("sync", "embeddings", "recommendations", "library-build")
for upstream, name in zip((None, *CHAIN), CHAIN, strict=False):
    schedule = "manual" if upstream is None else f"after {upstream}"
    rota.job(
        name, schedule=schedule, overlap="allow", max_concurrent=50, retry=Retry(3, backoff="1s")
    )(job)

stopping = threading.Event()
signal.signal(signal.SIGTERM, lambda *_: stopping.set())
rota.start()
print("ready", flush=True)
stopping.wait()
rota.stop()
