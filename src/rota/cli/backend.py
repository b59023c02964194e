"""What every command talks to: a `Backend`, reached either directly on the store
(`rota.cli.local`, a `Rota` admin client) or through a running service (`rota.cli.remote`).
Both answer in the API's JSON shapes (`rota.cli.shapes`), so the commands print the same either
way. Which one a command gets follows from its options (`open_backend`)."""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from rota.errors import RotaError

if TYPE_CHECKING:
    from rota.app import Rota

__all__ = ["Backend", "CommandError", "Json", "load_app", "open_backend", "sqlite_path"]

Json = dict[str, Any]


class CommandError(RotaError):
    """A command cannot do what it was asked: the message names what is wrong. `exit_code` 2
    for bad usage (options that do not fit together, a missing one), 1 otherwise."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class Backend(Protocol):
    """The admin calls of `Rota`, answered as the REST API's JSON."""

    where: str
    """What it reaches, for messages: the database URL (password hidden) or the service URL."""

    def jobs(self, internal: bool) -> list[Json]: ...
    def job(self, name: str) -> Json: ...
    def run_now(self, name: str, args: Json, at: datetime | None) -> Json: ...
    def pause(self, name: str, note: str | None) -> Json: ...
    def resume(self, name: str) -> Json: ...
    def override(self, name: str, settings: Json) -> Json: ...
    def reset(self, name: str, settings: Sequence[str]) -> Json: ...
    def remove(self, name: str) -> None: ...
    def runs(
        self,
        job: str | None,
        statuses: Sequence[str],
        reasons: Sequence[str],
        limit: int,
        before: int | None,
        parent: int | None = None,
    ) -> Json: ...
    def run(self, run_id: int) -> Json: ...
    def cancel(self, run_id: int) -> Json: ...
    def retry(self, run_id: int) -> Json: ...
    def limiters(self) -> list[Json]: ...
    def events(self, after: int | None) -> Iterator[Json]: ...
    def close(self) -> None: ...


def open_backend(
    url: str | None,
    url_given: bool,
    token_env: str,
    database_url: str | None,
    database_given: bool,
    app: str | None,
) -> Backend:
    """The backend the options name: `url` (``--url``/``ROTA_URL``) is a service; else `app`'s
    Rota, or `database_url` (``--database-url``/``ROTA_DATABASE_URL``) is a store. An option
    given on the command line wins over one from the environment; two given there clash."""
    given = [
        name
        for name, value, explicit in (
            ("--url", url, url_given),
            ("--app", app, app is not None),
            ("--database-url", database_url, database_given),
        )
        if value and explicit
    ]
    if len(given) > 1:
        raise CommandError(f"options: give one of {', '.join(given)}, not both", 2)
    if url and (url_given or not given):
        from rota.cli.remote import RemoteBackend

        token = os.environ.get(token_env, "").strip()
        if not token:
            raise CommandError(
                f"token: ${token_env} is not set; the service at {url} needs a bearer token "
                f"(set {token_env}, or name another variable with --token-env)",
                2,
            )
        return RemoteBackend(url, token, token_env)
    from rota.cli.local import LocalBackend

    if app is not None:
        return LocalBackend(load_app(app), owned=False)
    if not database_url:
        raise CommandError(
            "store: say where the jobs are: --database-url (or ROTA_DATABASE_URL) for the "
            "database, --app module:attribute for the app's Rota, or --url (or ROTA_URL) for "
            "a running service",
            2,
        )
    path = sqlite_path(database_url)
    if path is not None and not path.exists():
        raise CommandError(
            f"database: {path} does not exist (is the path right? 'rota db upgrade' creates "
            "a new database)"
        )
    from rota.app import Rota

    return LocalBackend(Rota(database_url), owned=True)


def sqlite_path(database_url: str) -> Path | None:
    """The file of a SQLite URL (None for other stores and in-memory SQLite)."""
    scheme, separator, rest = database_url.partition(":///")
    if not separator or scheme.partition("+")[0].lower() != "sqlite":
        return None
    path = rest.split("?", 1)[0]
    return None if not path or path == ":memory:" else Path(path)


def load_app(spec: str) -> Rota:
    """The `Rota` that ``module:attribute`` names (the module imported as uvicorn does, with
    the working directory on the path)."""
    from rota.app import Rota

    module_name, colon, attribute = spec.partition(":")
    if not colon or not module_name or not attribute:
        raise CommandError(f"app: {spec!r} is not 'module:attribute' (e.g. 'myapp.jobs:rota')", 2)
    if "" not in sys.path and os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        found: object = importlib.import_module(module_name)
    except ImportError as error:
        raise CommandError(f"app: module {module_name!r} cannot be imported: {error}", 2) from None
    for part in attribute.split("."):
        try:
            found = getattr(found, part)
        except AttributeError:
            raise CommandError(
                f"app: module {module_name!r} has no attribute {attribute!r}", 2
            ) from None
    if not isinstance(found, Rota):
        raise CommandError(
            f"app: {spec!r} is a {type(found).__name__}, not a Rota (name the Rota object, "
            "e.g. 'myapp.jobs:rota')",
            2,
        )
    return found
