"""``rota token new``: a new admin or viewer token for the service, its hash added to the token
file the service reads at start (decision 0014)."""

from __future__ import annotations

from pathlib import Path

import click

from rota.cli.backend import CommandError, load_app

__all__ = ["token"]


@click.group()
def token() -> None:
    """The service's bearer tokens."""


@token.command("new")
@click.option(
    "--role",
    type=click.Choice(["admin", "viewer"]),
    required=True,
    help="admin: everything; viewer: reads only.",
)
@click.option(
    "--token-file",
    default=None,
    type=click.Path(dir_okay=False),
    help="The service's token file (default: the one beside the database).",
)
@click.option(
    "--database-url",
    envvar="ROTA_DATABASE_URL",
    default=None,
    metavar="URL",
    help="The service's database, to find its token file; env ROTA_DATABASE_URL.",
)
@click.option(
    "--app",
    "app_spec",
    default=None,
    metavar="MODULE:ATTR",
    help="The app's Rota, to find its token file.",
)
def new_command(
    role: str, token_file: str | None, database_url: str | None, app_spec: str | None
) -> None:
    """Make a token of ROLE: it is printed once, on stdout; only its SHA-256 is kept, in the
    token file (the one the service keeps beside a SQLite database, else
    rota-admin-token.sha256 in the working directory). Restart the service to accept it."""
    try:
        from rota.service.auth import Role, add_token, default_token_file
    except ImportError as error:
        raise CommandError(
            f"token: the service needs the 'service' extra ({error}): pip install 'rota[service]'"
        ) from None
    if token_file is not None:
        path = Path(token_file)
    elif app_spec is not None:
        path = default_token_file(load_app(app_spec).database_url)
    elif database_url:
        path = default_token_file(database_url)
    else:
        raise CommandError(
            "token: say which service: --token-file PATH, or --database-url / "
            "ROTA_DATABASE_URL or --app, whose token file is used",
            2,
        )
    made = add_token(path, Role(role))
    click.echo(
        f"new {role} token (shown this once; its hash is in {path}; restart the "
        "service to accept it):",
        err=True,
    )
    click.echo(made)
