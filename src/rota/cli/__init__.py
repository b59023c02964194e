"""The ``rota`` command line: a thin shell over the library and the REST API (docs/cli.md).

Each command's module imports only click and rota's light parts at the top; SQLAlchemy, FastAPI,
uvicorn and rich load inside the commands that use them, so ``rota --help`` answers at once.
"""

from __future__ import annotations

import click

from rota.cli.common import RotaGroup
from rota.cli.db import db
from rota.cli.jobs import jobs
from rota.cli.limiters import limiters
from rota.cli.ops import demo, serve, worker
from rota.cli.preview import preview_command
from rota.cli.runs import events, runs
from rota.cli.token import token
from rota.cli.words import until

__all__ = ["main", "until"]


@click.group(cls=RotaGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="rota")
def main() -> None:
    """rota: named background jobs for self-hosted apps.

    Admin commands work on the store (--database-url or ROTA_DATABASE_URL, or --app
    module:attribute) or on a running service (--url or ROTA_URL, token in ROTA_TOKEN), with
    the same output. Exit codes: 0 done, 1 failed (unknown job or run, refused change,
    unreachable store), 2 bad usage or input (the error names it).
    """


for command in (serve, worker, demo, jobs, runs, events, limiters, preview_command, db, token):
    main.add_command(command)
