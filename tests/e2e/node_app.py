"""One rota node on PostgreSQL, run as a process of its own by tests/e2e/test_nodes_postgres.py.

    python tests/e2e/node_app.py URL PLAN.json

URL is the store's (a schema named by libpq's options); PLAN.json, which the node waits for
after it logged "ready", says which jobs to register:

    {"heartbeat": 0.5, "lease": 10, "workers": 10, "sleep": 0.01, "sleeps": {"shot-0": 2},
     "bridges": ["shot-1"],
     "shots": [["shot-0", "2026-11-23T10:00:02+00:00"], ...],
     "ticks": [["tick-0", 1.0], ...]}

`shots` are one-shot jobs (`once(at)`), `ticks` interval jobs (`every(seconds=...)`), all with
`Retry(3, backoff="1s")`. Every run sleeps `sleep` seconds (or its job's in `sleeps`), so that
runs are in flight when a test kills the node, and then inserts one row into the test's own
`effects` table (job, fire time, run id, attempt, this process's pid): what the job did, as a
job's side effect would be seen outside rota. The node runs until SIGTERM (then it stops
cleanly) or until it is killed; it logs to stderr, and dumps every thread's stack on SIGUSR1.

The first attempt of a job in `bridges` instead asks the database for its time every 20 ms until
that fails, and then fails at once: a job that uses the database and ends while it is down.
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
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy.engine import make_url

from rota import Retry, Rota, every, once

url, plan_path = sys.argv[1], Path(sys.argv[2])
logging.basicConfig(
    level=logging.INFO,
    stream=sys.stderr,
    format=f"%(asctime)s [{os.getpid()}] %(threadName)s %(levelname)s %(name)s: %(message)s",
)
logging.getLogger("alembic").setLevel(logging.WARNING)  # a node that migrates says so, in detail
# The test writes the plan once every node it started is here (imports take a while on a busy
# machine), so that the fire times lie ahead of every node's start.
logging.getLogger("node_app").info("ready")
deadline = time.monotonic() + 120
while not plan_path.exists() and time.monotonic() < deadline:
    time.sleep(0.02)
plan = json.loads(plan_path.read_text())
# libpq spells the URL without SQLAlchemy's driver name; the options (the schema) stay.
conninfo = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
rota = Rota(
    url,
    timezone="UTC",
    workers=plan["workers"],
    heartbeat=plan["heartbeat"],
    lease=plan["lease"],
)
pauses: dict[str, float] = plan["sleeps"]
pause = float(plan["sleep"])
bridges = set(plan["bridges"])
connections = threading.local()


def connection_of_thread() -> psycopg.Connection[Any]:
    """This worker thread's connection to the database (a new one if it broke)."""
    connection: psycopg.Connection[Any] | None = getattr(connections, "connection", None)
    if connection is None or connection.closed:
        connection = connections.connection = psycopg.connect(
            conninfo, autocommit=True, connect_timeout=5
        )
    return connection


def record_effect(ctx: Any) -> None:
    """Insert this run's effect row."""
    connection = connection_of_thread()
    try:
        connection.execute(
            "INSERT INTO effects (job, fire_time, run_id, attempt, pid)"
            " VALUES (%s, %s, %s, %s, %s)",
            (ctx.run.job, ctx.run.fire_time, ctx.run.id, ctx.run.attempt, os.getpid()),
        )
    except psycopg.OperationalError:
        # The server went away (a restart): the run fails and rota retries it; the next run
        # on this thread connects afresh.
        connection.close()
        raise


def bridge() -> None:
    """Use the database until it goes away, then fail (within a minute, whatever happens)."""
    connection = connection_of_thread()
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            connection.execute("SELECT clock_timestamp()")
            time.sleep(0.02)
    except psycopg.OperationalError:
        connection.close()
        raise


def job(ctx: Any) -> None:
    """Every job: take a while, then leave its mark; a run rota stops (its node lost its
    lease, say) leaves none. The while is counted in steps of 10 ms, not by the clock, so that
    a process paused (SIGSTOP) mid-run has as much left to do when it resumes."""
    if ctx.run.job in bridges and ctx.run.attempt == 1:
        bridge()
        raise RuntimeError("the database did not go away")
    seconds = pauses.get(ctx.run.job, pause)
    for _ in range(int(seconds / 0.01)):
        if ctx.cancelled:
            return
        time.sleep(0.01)
    time.sleep(seconds % 0.01)
    if ctx.cancelled:
        return
    record_effect(ctx)


for name, at in plan["shots"]:
    rota.job(name, schedule=once(datetime.fromisoformat(at)), retry=Retry(3, backoff="1s"))(job)
for name, seconds in plan["ticks"]:
    rota.job(name, schedule=every(seconds=seconds), retry=Retry(3, backoff="1s"))(job)

# A test that gives up waiting sends SIGUSR1 first: every thread's stack goes to the log.
faulthandler.register(signal.SIGUSR1, all_threads=True)
stopping = threading.Event()
signal.signal(signal.SIGTERM, lambda *_: stopping.set())
rota.start()
logging.getLogger("node_app").info("started")
while not stopping.wait(0.1):
    pass
rota.stop(grace=5)
logging.getLogger("node_app").info("stopped")
