"""The demo's own secrets in its data directory: the admin token and the TMDb API key. Each is
made on first use and kept (mode 0600, written whole by `rota.files.write_once`), so that a
restart finds it."""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path

from rota.files import write_once

__all__ = ["kept_secret"]


def kept_secret(path: Path) -> str:
    """The secret kept in `path`, or a new one (made and written there) if there is none or
    it is too short to be one."""
    with contextlib.suppress(FileNotFoundError):
        secret = path.read_text(encoding="utf-8").strip()
        if len(secret) >= 16:
            os.chmod(path, 0o600)
            return secret
        path.unlink()  # too short to be a secret: made anew
    secret = secrets.token_urlsafe(24)
    if not write_once(path, secret + "\n"):  # another process made one just now: its own
        secret = path.read_text(encoding="utf-8").strip()
    return secret
