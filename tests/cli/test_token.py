"""``rota token new``: a token printed once, its hash added to the token file the service reads,
old one-line files still read as the admin's."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from rota.errors import SettingError
from rota.service.auth import Role, Tokens
from tests.cli.conftest import invoke


def test_a_new_viewer_token_is_accepted_with_its_role(tmp_path: Path) -> None:
    path = tmp_path / "tokens"
    result = invoke("token", "new", "--role", "viewer", "--token-file", str(path))
    assert result.exit_code == 0, result.output
    token = result.stdout.strip()
    assert len(token) >= 40
    assert "shown this once" in result.stderr
    assert token not in path.read_text()
    assert path.read_text() == f"viewer {hashlib.sha256(token.encode()).hexdigest()}\n"
    assert path.stat().st_mode & 0o077 == 0
    tokens = Tokens.configure("admin-token-0123456789", None, path)
    assert tokens.role_of(token) is Role.VIEWER
    assert tokens.role_of("admin-token-0123456789") is Role.ADMIN
    assert tokens.role_of("x" * 40) is None


def test_tokens_add_up_beside_an_old_admin_hash(tmp_path: Path) -> None:
    path = tmp_path / "app.db.admin-token.sha256"
    old = "old-admin-token-0123456789"
    path.write_text(hashlib.sha256(old.encode()).hexdigest() + "\n")  # decision 0008's format
    url = f"sqlite:///{tmp_path}/app.db"
    admin = invoke("token", "new", "--role", "admin", "--database-url", url).stdout.strip()
    viewer = invoke("token", "new", "--role", "viewer", env={"ROTA_DATABASE_URL": url})
    tokens = Tokens.configure(None, None, path)
    assert tokens.role_of(old) is Role.ADMIN
    assert tokens.role_of(admin) is Role.ADMIN
    assert tokens.role_of(viewer.stdout.strip()) is Role.VIEWER
    assert len(path.read_text().splitlines()) == 3


def test_a_viewer_only_file_gets_a_generated_admin(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ROTA_ADMIN_TOKEN", raising=False)
    path = tmp_path / "tokens"
    viewer = invoke("token", "new", "--role", "viewer", "--token-file", str(path)).stdout.strip()
    tokens = Tokens.configure(None, None, path)
    assert tokens.role_of(viewer) is Role.VIEWER
    assert path.read_text().splitlines()[1].startswith("admin ")
    assert Tokens.configure(None, None, path) == tokens  # found again, not made again


def test_a_broken_token_file_is_named(tmp_path: Path) -> None:
    path = tmp_path / "tokens"
    path.write_text("superuser abc\n")
    with pytest.raises(SettingError, match="token_file: a line must be"):
        Tokens.configure(None, None, path)
    result = invoke("token", "new", "--role", "admin", "--token-file", str(path))
    assert result.exit_code == 2
    assert result.stderr.startswith("error: token_file: a line must be")
    assert path.read_text() == "superuser abc\n"


def test_token_new_needs_to_know_the_file() -> None:
    result = invoke("token", "new", "--role", "admin")
    assert result.exit_code == 2
    assert result.stderr.startswith("error: token: say which service: --token-file")
    bad = invoke("token", "new", "--role", "root", "--token-file", "x")
    assert bad.exit_code == 2
