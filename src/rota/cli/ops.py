"""Running rota: ``rota serve APP`` (engine, API and page under uvicorn), ``rota worker APP``
(the engine only, for extra nodes), and ``rota demo``."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import click

from rota.app import Rota
from rota.cli.backend import CommandError, load_app

__all__ = ["demo", "serve", "worker"]


def _app(spec: str, database_url: str | None) -> Rota:
    found = load_app(spec)
    if database_url:
        # Before the Rota has opened its store: it opens it on first use, with this URL.
        found.database_url = database_url
    return found


database_option = click.option(
    "--database-url",
    envvar="ROTA_DATABASE_URL",
    default=None,
    metavar="URL",
    help="Use this store instead of the one APP's Rota names; env ROTA_DATABASE_URL.",
)


@click.command("serve")
@click.argument("app_spec", metavar="APP")
@database_option
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True)
@click.option(
    "--log-level",
    default="info",
    show_default=True,
    type=click.Choice(["critical", "error", "warning", "info", "debug"]),
)
def serve(app_spec: str, host: str, port: int, log_level: str, database_url: str | None) -> None:
    """Run the engine, the REST API and the page of APP under uvicorn.

    APP is the module:attribute of your Rota. The store is APP's (or --database-url /
    ROTA_DATABASE_URL); schedules without a zone use the Rota's, which defaults to TZ. Tokens:
    ROTA_ADMIN_TOKEN / ROTA_VIEWER_TOKEN, else a generated admin token (logged once).
    SIGINT or SIGTERM stops it gracefully.
    """
    try:
        import uvicorn

        from rota import asgi
    except ImportError as error:
        raise CommandError(
            f"serve: the service needs the 'service' extra ({error}): pip install 'rota[service]'"
        ) from None
    rota = _app(app_spec, database_url)
    application = asgi(rota, start_engine=True)
    click.echo(f"rota serve: {app_spec} on http://{host}:{port} (Ctrl-C stops it)", err=True)
    # uvicorn hands the signal that stopped it back to the process once it has shut down; by
    # then the stop was graceful, and the exit code says so (0) rather than "killed by it".
    stopped_by: list[int] = []
    for number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(number, lambda received, _frame: stopped_by.append(received))
    uvicorn.run(application, host=host, port=port, log_level=log_level)
    click.echo("rota serve: stopped", err=True)


@click.command("worker")
@click.argument("app_spec", metavar="APP")
@database_option
@click.option(
    "--grace",
    default=None,
    metavar="DURATION",
    help="How long running runs may finish on stop (default: the Rota's).",
)
def worker(app_spec: str, grace: str | None, database_url: str | None) -> None:
    """Run APP's engine only, as one more node, until SIGINT or SIGTERM; then stop gracefully
    (running runs get the grace to finish, the rest are recorded interrupted)."""
    rota = _app(app_spec, database_url)
    asyncio.run(_work(rota, app_spec, grace))


async def _work(rota: Rota, spec: str, grace: str | None) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for number in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(number, stop.set)
    await rota.start_async()
    node = rota.engine.node_id if rota.engine is not None else "?"
    click.echo(f"rota worker: {spec} running as node {node}; Ctrl-C stops it", err=True)
    try:
        await stop.wait()
        click.echo("rota worker: stopping", err=True)
    finally:
        await rota.stop_async(grace)
    click.echo("rota worker: stopped", err=True)


@click.command("demo")
@click.option(
    "--fast",
    is_flag=True,
    help="Short schedules: every job starts within a minute, then every 10-60 s.",
)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True)
@click.option(
    "--data-dir",
    default=".demo",
    show_default=True,
    type=click.Path(file_okay=False),
    help="Where the demo's database and files live.",
)
def demo(fast: bool, host: str, port: int, data_dir: str) -> None:
    """Run a demo app with example jobs, its API and page: a look at rota in a minute."""
    try:
        from rota.demo import run_demo  # type: ignore[import-not-found, unused-ignore]
    except ImportError as error:
        raise CommandError(f"demo: rota.demo cannot be imported: {error}") from None
    run_demo(fast=fast, host=host, port=port, data_dir=Path(data_dir))
