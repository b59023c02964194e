"""A rota node that hammers one shared limiter, run twice at once by
tests/e2e/test_limiter_processes.py (decision 0012).

    python tests/e2e/limiter_app.py URL OUT CALLS NODE

URL is the store's (a PostgreSQL schema named by libpq's options). The node declares the limiter
``shared`` (10 per second) and runs its jobs ``hammer-NODE-a`` and ``hammer-NODE-b`` at once,
each making CALLS acquisitions of one token as fast as the limiter lets it; it writes the instant
of each acquisition (seconds since the epoch, one a line) to OUT, then ``done`` as the last line
once both runs succeeded, and exits. It uses the real system clock.
"""

from __future__ import annotations

import logging
import sys
import threading
from pathlib import Path

from rota import Rota, RunContext, RunStatus

url, out, calls, node = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
names = [f"hammer-{node}-a", f"hammer-{node}-b"]
logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
rota = Rota(url, timezone="UTC", heartbeat=1, lease=5)
rota.limiter("shared", 10, per="1s", max_wait="30s")
lock = threading.Lock()
spent: list[float] = []


def hammer(ctx: RunContext) -> None:
    for _ in range(calls):
        with ctx.limit("shared") as at, lock:
            spent.append(at.timestamp())


for name in names:
    rota.job(name)(hammer)

with rota:
    runs = [rota.run_now(name) for name in names]
    ended = [rota.wait(run_id, timeout=120, retries=False) for run_id in runs]
statuses = [run.status for run in ended]
lines = [repr(at) for at in spent]
if statuses == [RunStatus.SUCCEEDED] * 2:
    lines.append("done")
else:
    lines.append(f"failed: {[(run.status, run.error) for run in ended]}")
out.write_text("\n".join(lines) + "\n")
print("limiter_app: finished", flush=True)
