"""A rota app with a process-isolated job stuck in ``time.sleep(3600)``.

    python tests/e2e/isolation_app.py DATABASE MARKER MODE

Once the job's process runs, the app prints ``child PID``; then, with MODE ``stop``, it calls
``rota.stop(grace=1)`` and exits (printing ``stopped``); with MODE ``wait`` it waits to be killed.
"""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[2]))  # for tests.engine.isolated_jobs

from rota import Rota
from tests.engine import isolated_jobs

if __name__ == "__main__":  # the job's process imports this script too (spawn): start only here
    database, marker, mode = sys.argv[1], sys.argv[2], sys.argv[3]
    rota = Rota(f"sqlite:///{database}", timezone="UTC")
    rota.job("hang", isolation="process")(isolated_jobs.hang)
    rota.start()
    run_id = rota.run_now("hang", marker=marker)
    while (note := rota.get_run(run_id).progress_note) is None:
        time.sleep(0.02)
    print(f"child {note}", flush=True)
    if mode == "stop":
        rota.stop(grace=1)
        print("stopped", flush=True)
    else:
        threading.Event().wait()
