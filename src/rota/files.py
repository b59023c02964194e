"""Files written whole, once: a secret or a token's hash that several processes may start to
write at the same moment. Written beside under a name of its own and linked into place, so that a
reader never sees half a file and the first writer wins."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

__all__ = ["write_once"]


def write_once(path: Path, text: str) -> bool:
    """Write `text` to a new file at `path` (mode 0600) unless one is there: whole or not at
    all, and of several processes writing at once, the first wins. Whether this call wrote it."""
    part = path.with_name(f"{path.name}.{secrets.token_hex(4)}.part")
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.write(text)
    try:
        os.link(part, path)
    except FileExistsError:
        return False
    finally:
        part.unlink()
    return True
