"""Who may do what: closed by default (docs/decisions/0008).

Two roles: ``admin`` (everything) and ``viewer`` (reads only). A client sends
``Authorization: Bearer <token>``. Which role a route needs follows from its HTTP method, on the
server, for every route: GET, HEAD and OPTIONS read; every other method changes something and
needs the admin token. Only `/healthz` is open.

Tokens come from the arguments of `asgi(...)`, else ``ROTA_ADMIN_TOKEN`` / ``ROTA_VIEWER_TOKEN``.
With no admin token configured, the first start generates one, logs it once, and keeps only its
SHA-256 in a file (`token_file`: beside a SQLite database, else ``rota-admin-token.sha256`` in
the working directory); later starts accept the token whose hash is there. The file may hold
more tokens, one ``ROLE SHA256HEX`` a line (``rota token new`` adds them; a line of a bare hash
is an admin's): every one is accepted with its role, beside those configured. Tokens are
compared by their hashes in constant time, and never logged (but that once) nor sent back.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from fastapi import Request
from fastapi.security import HTTPBearer

from rota.errors import SettingError
from rota.files import write_once

__all__ = [
    "READ_METHODS",
    "Role",
    "Tokens",
    "add_token",
    "bearer",
    "default_token_file",
    "read_token_file",
]

log = logging.getLogger("rota.service")
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Declares the scheme in the OpenAPI spec; the check itself is `Tokens.role_of`.
bearer = HTTPBearer(auto_error=False, description="An admin or viewer token.")
_MIN_LENGTH = 16


class Role(StrEnum):
    """What a token may do."""

    ADMIN = "admin"
    VIEWER = "viewer"


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def default_token_file(database_url: str) -> Path:
    """Where a generated admin token's hash is kept for a store: beside a SQLite file, else
    in the working directory."""
    prefix = "sqlite:///"
    if database_url.startswith(prefix):
        path = database_url[len(prefix) :].split("?", 1)[0]
        if path and path != ":memory:":
            return Path(path).with_name(Path(path).name + ".admin-token.sha256")
    return Path("rota-admin-token.sha256")


@dataclass(frozen=True)
class Tokens:
    """The hashes of the tokens this app accepts, by role."""

    admin: bytes
    viewer: bytes | None
    more: tuple[tuple[Role, bytes], ...] = ()
    """Tokens from the token file beyond `admin`, with their roles (``rota token new``)."""

    @classmethod
    def configure(
        cls,
        admin_token: str | None,
        viewer_token: str | None,
        token_file: Path,
    ) -> Tokens:
        """From the arguments, else the environment, else a generated admin token (see the
        module's docstring)."""
        admin_token = admin_token or os.environ.get("ROTA_ADMIN_TOKEN") or None
        viewer_token = viewer_token or os.environ.get("ROTA_VIEWER_TOKEN") or None
        for name, token in (("admin_token", admin_token), ("viewer_token", viewer_token)):
            if token is not None and len(token) < _MIN_LENGTH:
                # The value itself is a secret: never put it into the error.
                raise SettingError(
                    name, f"{len(token)} characters", f"a token needs {_MIN_LENGTH} or more"
                )
        if admin_token is not None and admin_token == viewer_token:
            raise SettingError("viewer_token", "(hidden)", "must differ from the admin token")
        kept = read_token_file(token_file)
        admins = [digest for role, digest in kept if role is Role.ADMIN]
        if admin_token:
            admin = _digest(admin_token)
        elif admins:
            admin = admins[0]
        else:
            admin = _generated(token_file)
        more = tuple((role, digest) for role, digest in kept if digest != admin)
        return cls(admin, _digest(viewer_token) if viewer_token else None, more)

    def role_of(self, token: str | None) -> Role | None:
        """The role of a presented token, or None: every hash is compared, in constant time."""
        if not token:
            return None
        presented = _digest(token)
        is_admin = hmac.compare_digest(presented, self.admin)
        is_viewer = self.viewer is not None and hmac.compare_digest(presented, self.viewer)
        for role, digest in self.more:  # every one compared: the time says nothing of which
            matches = hmac.compare_digest(presented, digest)
            is_admin |= matches and role is Role.ADMIN
            is_viewer |= matches and role is Role.VIEWER
        if is_admin:
            return Role.ADMIN
        return Role.VIEWER if is_viewer else None


def read_token_file(path: Path) -> list[tuple[Role, bytes]]:
    """The tokens kept in a token file, with their roles: one ``ROLE SHA256HEX`` a line, or a
    bare hash (an admin's, as the first start writes it); none if there is no file."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return []
    kept: list[tuple[Role, bytes]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        words = line.split()
        if not words:
            continue
        role_text, hex_text = ("admin", words[0]) if len(words) == 1 else (words[0], words[-1])
        try:
            role = Role(role_text)
            digest = bytes.fromhex(hex_text)
        except ValueError:
            digest = b""
        if len(words) > 2 or len(digest) != hashlib.sha256().digest_size:
            raise SettingError(
                "token_file",
                f"{path}:{number}",
                "a line must be a SHA-256 in hex, or 'admin HEX' or 'viewer HEX'",
            )
        kept.append((role, digest))
    return kept


def add_token(path: Path, role: Role) -> str:
    """A new token of `role`, its hash added to the token file (made, mode 0600, if missing);
    the token itself is kept nowhere: the caller shows it once. A running service reads the
    file when it starts."""
    read_token_file(path)  # refuse to add to a file that is not a token file
    token = secrets.token_urlsafe(32)
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    with os.fdopen(descriptor, "a") as file:
        file.write(f"{role.value} {_digest(token).hex()}\n")
    return token


def _generated(path: Path) -> bytes:
    """The admin hash kept in `path`, or a new token's, written there and the token logged
    once."""
    kept = [digest for role, digest in read_token_file(path) if role is Role.ADMIN]
    if kept:
        return kept[0]
    token = secrets.token_urlsafe(32)
    digest = _digest(token)
    if path.exists():  # viewers only (``rota token new --role viewer``): add an admin
        with path.open("a") as file:
            file.write(f"admin {digest.hex()}\n")
    elif not write_once(path, digest.hex() + "\n"):
        return _generated(path)  # another process starting at once wrote one first: theirs wins
    _log_generated(path, token)
    return digest


def _log_generated(path: Path, token: str) -> None:
    log.warning(
        "rota service: no admin token was configured, so one was generated (shown this once; "
        "only its hash is kept, in %s): %s  Set ROTA_ADMIN_TOKEN to choose your own.",
        path,
        token,
    )


def presented_token(request: Request) -> str | None:
    """The bearer token of a request, if it has one."""
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()
