"""The README's first screen runs: its Python runs and its transcript is what rota prints."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from click.testing import CliRunner

from rota.cli import main

README = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README, flags=re.DOTALL)


def test_python_examples_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # the example writes rota.db where it runs
    found = blocks("python")
    assert found
    for code in found:
        exec(compile(code, "README.md", "exec"), {})
    assert (tmp_path / "rota.db").exists()


def test_preview_transcript_matches() -> None:
    transcripts = [b for b in blocks("console") if b.startswith("$ rota ")]
    assert transcripts
    for transcript in transcripts:
        command, *expected = transcript.rstrip("\n").split("\n")
        result = CliRunner().invoke(main, shlex.split(command.removeprefix("$ rota ")))
        assert result.exit_code == 0
        assert result.stdout.rstrip("\n").split("\n") == expected
