"""Running rota: ``rota serve APP`` (engine, API and page under uvicorn), ``rota worker APP``
(the engine only, for extra nodes), and ``rota demo``."""

from __future__ import annotations

import asyncio
import errno
import signal
import socket
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
    _check_listen(host, port)  # before the store is opened or a token made
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
    try:
        uvicorn.run(application, host=host, port=port, log_level=log_level)
    except SystemExit as exit:
        if exit.code == STARTUP_FAILURE:  # uvicorn's: its log above says why
            raise CommandError(
                "serve: the service did not start (the log above says why)"
            ) from None
        raise
    click.echo("rota serve: stopped", err=True)


STARTUP_FAILURE = 3
"""uvicorn's exit code when the server could not start (docs/cli.md's codes are 0, 1 and 2)."""


def _check_listen(host: str, port: int) -> None:
    """Refuse, naming the address, a `host` and `port` the server could not listen on: bound as
    uvicorn binds them (every address the host resolves to, SO_REUSEADDR), then let go."""
    try:
        addresses = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as error:
        raise CommandError(f"host: {host!r} cannot be listened on: {error.strerror}", 2) from None
    for family, kind, protocol, _name, address in addresses:
        with socket.socket(family, kind, protocol) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                probe.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            try:
                probe.bind(address)
            except OSError as error:
                where = f"{host}:{port}"
                if error.errno == errno.EADDRINUSE:
                    raise CommandError(
                        f"port: {where} is in use (is a rota serve running there? --port "
                        "chooses another)"
                    ) from None
                if error.errno == errno.EADDRNOTAVAIL:
                    raise CommandError(
                        f"host: {host} is not an address of this machine ({error.strerror}; "
                        "0.0.0.0 listens on all of them)",
                        2,
                    ) from None
                raise CommandError(
                    f"port: {where} cannot be listened on: {error.strerror}"
                ) from None


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
