"""The app the CLI's tests drive: a few manual jobs and one on a daily schedule. `rota` is for
``--app tests.cli.app:rota`` (on a process-wide memory store; ``rota serve`` and ``rota worker`` are
given --database-url)."""

from __future__ import annotations

import time

from rota import Rota, RunContext


def make_rota(url: str) -> Rota:
    """The jobs, on the store at `url`."""
    rota = Rota(url, timezone="Europe/Berlin", heartbeat=1, lease=3, shutdown_grace=1)

    @rota.job("echo")
    def echo(ctx: RunContext, text: str = "hi") -> str:
        """Log its text."""
        ctx.log.info("echo %s", text)
        return text

    @rota.job("slow")
    def slow(ctx: RunContext, seconds: float = 30) -> None:
        """Wait until cancelled or its time is up."""
        ctx.progress(1, 4, "waiting")
        deadline = time.monotonic() + seconds
        while not ctx.cancelled and time.monotonic() < deadline:
            time.sleep(0.01)

    @rota.job("boom")
    def boom() -> None:
        """Fail."""
        raise RuntimeError("boom went the job")

    @rota.job("nightly", schedule="daily 03:00", overlap="skip")
    def nightly() -> None:
        """Once a night."""

    rota.limiter("tmdb", 40, per="10s")

    @rota.job("fan-out")
    def fan_out(ctx: RunContext, items: int = 2) -> None:
        """Draw on the tmdb limiter, and spawn an echo per item."""
        for item in range(items):
            with ctx.limit("tmdb", cost=2):
                ctx.spawn("echo", text=f"item {item}")

    return rota


rota = make_rota("memory://cli-tests")
