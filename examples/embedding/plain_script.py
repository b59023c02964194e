"""A plain script: jobs in code, the engine in a background thread, one run by hand.

Run it with ``python -m examples.embedding.plain_script``; it prints the run's status and log,
and the job's next fire time, then stops within its grace.
"""

from __future__ import annotations

import os

from rota import Rota, RunContext, daily

DATABASE = os.environ.get("ROTA_EXAMPLE_DATABASE", "sqlite:///plain-script.db")
rota = Rota(DATABASE, timezone="Europe/Berlin", shutdown_grace="5s")


@rota.job("library-scan", schedule=daily("02:00"), args={"library": "films"})
def library_scan(ctx: RunContext, library: str) -> None:
    """Scan a library for new and changed items."""
    titles = ["Alien", "Heat", "Ran"]
    for done, title in enumerate(titles, start=1):
        ctx.progress(done, len(titles), title)
    ctx.log.info("scanned %d items of %s", len(titles), library)


def main() -> None:
    with rota.running(grace="5s"):
        run = rota.wait(rota.run_now("library-scan"))
        print(run.status, run.log.splitlines()[-1])
        print("next:", rota.job_info("library-scan").next_fire_at)


if __name__ == "__main__":
    main()
