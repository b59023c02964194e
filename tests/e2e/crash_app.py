"""A rota app that a test kills with SIGKILL while its job runs.

    python tests/e2e/crash_app.py DATABASE MARKER

The job writes its run id to MARKER and then waits forever.
"""

from __future__ import annotations

import sys
import threading
from pathlib import Path

from rota import Retry, Rota

database, marker = sys.argv[1], Path(sys.argv[2])
rota = Rota(f"sqlite:///{database}", timezone="UTC")


@rota.job("backup", schedule="every 1h", retry=Retry(2, backoff="1s"))
def backup(ctx) -> None:  # type: ignore[no-untyped-def]
    ctx.progress(1, 10, "dumping")
    marker.write_text(str(ctx.run.id))
    threading.Event().wait()


rota.start()
rota.run_now("backup")
threading.Event().wait()
