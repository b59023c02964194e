"""``rota --help`` answers without loading the heavy parts; every command has its help."""

from __future__ import annotations

import os
import subprocess
import sys
import types
from pathlib import Path

import pytest
from click.testing import CliRunner

from rota.cli import main

HEAVY = ("sqlalchemy", "fastapi", "uvicorn", "alembic", "starlette", "pydantic", "rich")


def test_help_imports_nothing_heavy() -> None:
    code = (
        "import sys\n"
        "from rota.cli import main\n"
        "try:\n"
        "    main(['--help'])\n"
        "except SystemExit as done:\n"
        "    assert done.code == 0, done.code\n"
        f"print(sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r})))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    assert "Commands:" in done.stdout
    assert done.stdout.splitlines()[-1] == "[]"


def test_python_m_rota_cli_is_the_command() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "rota.cli", "jobs", "--help"],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    assert done.returncode == 0, done.stderr
    assert "--database-url URL" in done.stdout


COMMANDS = [
    ["serve"],
    ["worker"],
    ["demo"],
    ["jobs"],
    ["jobs", "show"],
    ["jobs", "run"],
    ["jobs", "pause"],
    ["jobs", "resume"],
    ["jobs", "reset"],
    ["jobs", "set"],
    ["jobs", "rm"],
    ["runs"],
    ["runs", "show"],
    ["runs", "cancel"],
    ["runs", "retry"],
    ["events"],
    ["preview"],
    ["db", "upgrade"],
    ["db", "backup"],
    ["token", "new"],
]


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_every_command_has_help(command: list[str]) -> None:
    result = CliRunner().invoke(main, [*command, "--help"])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"Usage: main {' '.join(command)}")


def test_demo_hands_its_options_to_rota_demo(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[dict[str, object]] = []
    fake = types.ModuleType("rota.demo")
    fake.run_demo = lambda **options: calls.append(options)  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "rota.demo", fake)
    assert CliRunner().invoke(main, ["demo"]).exit_code == 0
    assert calls[-1] == {
        "fast": False,
        "host": "127.0.0.1",
        "port": 8000,
        "data_dir": Path(".demo"),
    }
    args = ["demo", "--fast", "--host", "0.0.0.0", "--port", "9000", "--data-dir", "/tmp/d"]
    assert CliRunner().invoke(main, args).exit_code == 0
    assert calls[-1] == {"fast": True, "host": "0.0.0.0", "port": 9000, "data_dir": Path("/tmp/d")}


def test_demo_says_when_rota_demo_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "rota.demo", None)  # as where it is not installed
    result = CliRunner().invoke(main, ["demo", "--fast"])
    assert result.exit_code == 1
    assert result.stderr.startswith("error: demo: rota.demo cannot be imported")


@pytest.mark.parametrize(
    ("args", "first", "hint"),
    [
        (["jbos"], "error: no such command 'jbos'.", "Try 'rota -h' for help."),
        (["--bogus"], "error: no such option", "Try 'rota -h' for help."),
        (
            ["runs", "show", "abc"],
            "error: invalid value for 'ID': 'abc' is not a valid integer range.",
            "Try 'rota runs show -h' for help.",
        ),
        (["jobs", "show"], "error: missing argument 'NAME'.", "Try 'rota jobs show -h' for help."),
        (
            ["runs", "--status", "bad"],
            "error: invalid value for '--status': 'bad' is not one of ",
            "Try 'rota runs -h' for help.",
        ),
    ],
)
def test_usage_errors_are_printed_as_rotas_errors(args: list[str], first: str, hint: str) -> None:
    env: dict[str, str | None] = {"ROTA_URL": None, "ROTA_DATABASE_URL": None}
    result = CliRunner().invoke(main, args, env=env, prog_name="rota")
    assert result.exit_code == 2
    lines = result.stderr.splitlines()
    assert lines[0].startswith(first), result.stderr
    assert lines[-1] == hint
    assert "Error:" not in result.stderr


def test_rota_alone_prints_its_help() -> None:
    result = CliRunner().invoke(main, [])
    assert "Commands:" in result.output
    assert "error:" not in result.output
