"""The demo's own secrets in its data directory: the admin token and the TMDb API key. Each is
made on first use and kept (mode 0600, written beside and renamed), so that a restart finds it."""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path

__all__ = ["kept_secret"]


def kept_secret(path: Path) -> str:
    """The secret kept in `path`, or a new one (made and written there) if there is none or
    it is too short to be one."""
    with contextlib.suppress(FileNotFoundError):
        secret = path.read_text(encoding="utf-8").strip()
        if len(secret) >= 16:
            os.chmod(path, 0o600)
            return secret
    secret = secrets.token_urlsafe(24)
    part = path.with_name(path.name + ".part")
    descriptor = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        file.write(secret + "\n")
    os.replace(part, path)
    return secret
