"""What the commands share: the top-level group that turns rota's errors into ``error: ...`` and
an exit code, the options that choose a backend, and reading values from the command line."""

from __future__ import annotations

import contextlib
import functools
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, NoReturn, TypeVar

import click
from click.core import ParameterSource

from rota.cli.backend import Backend, CommandError, Json, open_backend
from rota.errors import RotaError, ScheduleError, SettingError

__all__ = [
    "RotaGroup",
    "Where",
    "backend_options",
    "exit_code_of",
    "parse_pairs",
    "parse_value",
]

F = TypeVar("F", bound=Callable[..., Any])


def exit_code_of(error: RotaError) -> int:
    """2 for bad input (a schedule, a setting, options that do not fit), else 1."""
    if isinstance(error, CommandError):
        return error.exit_code
    return 2 if isinstance(error, ScheduleError | SettingError) else 1


class RotaGroup(click.Group):
    """The ``rota`` group: a `RotaError` from any command is printed as ``error: ...`` on
    stderr, without a traceback, and exits 1 (failure) or 2 (bad input); so is a usage error
    click finds in the command line (exit 2)."""

    def make_context(
        self,
        info_name: str | None,
        args: list[str],
        parent: click.Context | None = None,
        **extra: Any,
    ) -> click.Context:
        try:
            return super().make_context(info_name, args, parent, **extra)
        except click.ClickException as error:
            _usage_error(error)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except RotaError as error:
            click.echo(f"error: {error}", err=True)
            raise SystemExit(exit_code_of(error)) from None
        except click.ClickException as error:
            _usage_error(error)


def _usage_error(error: click.ClickException) -> NoReturn:
    """Click's usage errors (an unknown option, a bad or missing argument) as rota's: first
    ``error: ...``, then the usage and where the help is; exit 2 (1 for other click errors)."""
    if type(error).__name__ == "NoArgsIsHelpError":  # ``rota`` alone: click prints the help
        raise error
    message = error.format_message()
    if message[:1].isupper() and message[1:2].islower():
        message = message[0].lower() + message[1:]  # "No such option" -> "no such option"
    click.echo(f"error: {message}", err=True)
    ctx = error.ctx if isinstance(error, click.UsageError) else None
    if ctx is not None:
        click.echo(ctx.get_usage(), err=True)
        if ctx.command.get_help_option(ctx) is not None:
            click.echo(f"Try '{ctx.command_path} {ctx.help_option_names[0]}' for help.", err=True)
    raise SystemExit(error.exit_code)


@dataclass(frozen=True)
class Where:
    """The backend options a command was given; `open` gives the backend they name."""

    url: str | None
    url_given: bool
    token_env: str
    database_url: str | None
    database_given: bool
    app: str | None

    @property
    def explicit(self) -> bool:
        """Whether a way was given on the command line (not only by the environment)."""
        return self.url_given or self.database_given or self.app is not None

    @contextlib.contextmanager
    def open(self) -> Iterator[Backend]:
        """The backend, closed on the way out."""
        backend = open_backend(
            self.url,
            self.url_given,
            self.token_env,
            self.database_url,
            self.database_given,
            self.app,
        )
        try:
            yield backend
        finally:
            backend.close()


def backend_options(function: F) -> F:
    """Give a command the options that choose its backend, gathered as `where` (`Where`)."""

    @click.option(
        "--url",
        envvar="ROTA_URL",
        default=None,
        metavar="URL",
        help="A running rota service (http://host:8000[/path]); env ROTA_URL.",
    )
    @click.option(
        "--token-env",
        default="ROTA_TOKEN",
        show_default=True,
        metavar="NAME",
        help="The environment variable holding the service's bearer token.",
    )
    @click.option(
        "--database-url",
        envvar="ROTA_DATABASE_URL",
        default=None,
        metavar="URL",
        help="The store itself (sqlite:///rota.db, postgresql://...); env ROTA_DATABASE_URL.",
    )
    @click.option(
        "--app",
        "app_spec",
        default=None,
        metavar="MODULE:ATTR",
        help="The app's Rota (its database URL and its jobs' code).",
    )
    @functools.wraps(function)
    def command(
        *args: Any,
        url: str | None,
        token_env: str,
        database_url: str | None,
        app_spec: str | None,
        **kwargs: Any,
    ) -> Any:
        ctx = click.get_current_context()
        where = Where(
            url,
            ctx.get_parameter_source("url") is ParameterSource.COMMANDLINE,
            token_env,
            database_url,
            ctx.get_parameter_source("database_url") is ParameterSource.COMMANDLINE,
            app_spec,
        )
        parent = ctx.parent.obj if ctx.parent is not None else None
        if isinstance(parent, Where) and parent.explicit and not where.explicit:
            where = parent  # ``rota jobs --url URL show NAME``: the group's options
        return function(*args, where=where, **kwargs)

    return command  # type: ignore[return-value]


def parse_value(text: str) -> Any:
    """A value from the command line: JSON where it reads as JSON (``3``, ``true``,
    ``{"attempts": 3}``), else the text itself (``daily 02:00``)."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def parse_pairs(pairs: Iterable[str], what: str) -> Json:
    """``KEY=VALUE`` pairs as a dict, each value read by `parse_value`."""
    found: Json = {}
    for pair in pairs:
        key, equals, value = pair.partition("=")
        if not equals or not key.strip():
            raise CommandError(f"{what}: {pair!r} is not KEY=VALUE", 2)
        found[key.strip()] = parse_value(value)
    return found
