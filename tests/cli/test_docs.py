"""docs/cli.md has a section for every command, and every section names a real command."""

from __future__ import annotations

import re
from pathlib import Path

import click

from rota.cli import main

DOCS = (Path(__file__).parents[2] / "docs" / "cli.md").read_text(encoding="utf-8")


def _commands(group: click.Group, prefix: str = "rota") -> list[str]:
    found = []
    for name, command in sorted(group.commands.items()):
        path = f"{prefix} {name}"
        if isinstance(command, click.Group):
            if command.invoke_without_command:
                found.append(path)
            found += _commands(command, path)
        else:
            found.append(path)
    return found


def _documented() -> set[str]:
    names = set()
    for heading in re.findall(r"^### (.+)$", DOCS, flags=re.MULTILINE):
        for code in re.findall(r"`(rota [^`]+)`", heading):
            words = [w for w in code.split() if re.fullmatch(r"[a-z]+", w)]
            names.add(" ".join(words))
    return names


def test_every_command_has_a_section() -> None:
    missing = set(_commands(main)) - _documented()
    assert not missing


def test_every_section_is_a_command() -> None:
    assert _documented() <= set(_commands(main))


def test_the_readme_links_the_page() -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    assert "[docs/cli.md](docs/cli.md)" in readme
