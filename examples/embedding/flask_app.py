"""rota inside a Flask app: the engine runs in a background thread; views use the sync calls;
a callback on rota's event thread logs every run that fails.

Run it with ``flask --app examples.embedding.flask_app run`` (one process: with several worker
processes, each runs an engine, which is fine on PostgreSQL; on SQLite start one).
"""

from __future__ import annotations

import atexit
import logging
import os
from typing import Any

from flask import Flask, jsonify

from rota import EventRecord, Rota, RunContext, UnknownJobError, every

log = logging.getLogger(__name__)
rota = Rota(os.environ.get("ROTA_EXAMPLE_DATABASE", "sqlite:///flask-app.db"))
FAILURES: list[int | None] = []


@rota.job("sync-users", schedule=every("30m"))
def sync_users(ctx: RunContext) -> None:
    """Sync users from the media server."""
    ctx.log.info("synced 3 users")


def on_failure(event: EventRecord) -> None:
    if event.data.get("status") == "failed":
        FAILURES.append(event.run_id)
        log.warning("run %s of %s failed: %s", event.run_id, event.job, event.data.get("error"))


def create_app() -> Flask:
    app = Flask(__name__)
    rota.start()
    atexit.register(rota.stop)  # safe at exit: runs still going are recorded interrupted
    rota.on("run.finished", on_failure)

    @app.get("/jobs")
    def jobs() -> Any:
        return jsonify([{"name": j.name, "paused": j.paused} for j in rota.jobs()])

    @app.post("/jobs/<name>/run")
    def run(name: str) -> Any:
        try:
            run_id = rota.run_now(name)
        except UnknownJobError as error:
            return jsonify({"error": str(error)}), 404
        finished = rota.wait(run_id, timeout=30)
        return jsonify({"id": finished.id, "status": finished.status.value})

    return app
