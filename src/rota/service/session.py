"""Browser sessions: a signed cookie, no server-side state (docs/decisions/0010).

A browser logs in once with a token (``POST /api/session``) and then sends the cookie
``rota_session`` instead of ``Authorization: Bearer``. The cookie holds its role, when it
expires and a random nonce, signed with HMAC-SHA256; the CSRF token is an HMAC of the same
payload, so it needs no storage either and a page gets it again after a reload
(``GET /api/session``).

The signing key is derived from the admin token when one is configured (so every process given
the same ``ROTA_ADMIN_TOKEN`` accepts the same cookies, with nothing written), else from a
random secret kept in a file beside the token file; either way the hashes of the configured
tokens go into the key, so changing the admin or the viewer token ends every session. A session
lasts `LIFETIME` from login; it survives restarts, and a cookie that leaves the browser stays
valid until it expires or a token changes (logging out clears it from the browser).
"""

from __future__ import annotations

import base64
import hmac
import os
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from rota.errors import SettingError
from rota.files import write_once
from rota.service.auth import Role, Tokens

__all__ = ["COOKIE", "CSRF_HEADER", "LIFETIME", "Session", "Sessions", "secret_file"]

COOKIE = "rota_session"
CSRF_HEADER = "X-CSRF-Token"
LIFETIME = timedelta(hours=12)
_VERSION = "1"
_LONGEST = 300  # characters: a longer cookie is not one of ours and is not parsed
_SECRET_BYTES = 32


@dataclass(frozen=True)
class Session:
    """A valid session: who, until when, and the CSRF token its writes must carry."""

    role: Role
    expires_at: datetime
    csrf_token: str


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


class Sessions:
    """Issues and checks session cookies with one signing key."""

    def __init__(self, key: bytes) -> None:
        self._key = key

    @classmethod
    def configure(cls, admin_token: str | None, tokens: Tokens, token_file: Path) -> Sessions:
        """The key for an app: from the configured admin token (argument, else
        ``ROTA_ADMIN_TOKEN``), else from the secret file beside `token_file`; bound to the
        hashes of the tokens in force."""
        configured = admin_token or os.environ.get("ROTA_ADMIN_TOKEN") or None
        if configured is not None:
            base = hmac.digest(configured.encode(), b"rota session key", "sha256")
        else:
            base = _install_secret(secret_file(token_file))
        # Every token in force, in one fixed order: changing or removing any ends every session.
        more = sorted(role.value.encode() + b":" + digest for role, digest in tokens.more)
        bound = b"\0".join([b"rota-session-v1", tokens.admin, tokens.viewer or b"", *more])
        return cls(hmac.digest(base, bound, "sha256"))

    def issue(self, role: Role, now: datetime) -> tuple[str, Session]:
        """A new cookie value for `role`, and the session it stands for."""
        expires = int(now.timestamp()) + int(LIFETIME.total_seconds())
        payload = f"{_VERSION}.{role.value}.{expires}.{_b64(secrets.token_bytes(16))}"
        value = f"{payload}.{self._sign(b'cookie', payload)}"
        return value, self._session(role, expires, payload)

    def verify(self, value: str | None, now: datetime) -> Session | None:
        """The session a cookie value stands for, or None (absent, forged, altered, expired,
        or signed with another key)."""
        if not value or len(value) > _LONGEST:
            return None
        payload, _, signature = value.rpartition(".")
        if not hmac.compare_digest(signature.encode(), self._sign(b"cookie", payload).encode()):
            return None
        version, role, expires, _nonce = payload.split(".")  # ours: signed, so well formed
        if version != _VERSION or now.timestamp() >= int(expires):
            return None
        return self._session(Role(role), int(expires), payload)

    def _session(self, role: Role, expires: int, payload: str) -> Session:
        at = datetime.fromtimestamp(expires, UTC)
        return Session(role, at, self._sign(b"csrf", payload))

    def _sign(self, purpose: bytes, payload: str) -> str:
        return _b64(hmac.digest(self._key, purpose + b"\0" + payload.encode(), "sha256"))


def secret_file(token_file: Path) -> Path:
    """Where the session secret is kept when no admin token is configured: beside the token
    file (``app.db.admin-token.sha256`` → ``app.db.session-secret``)."""
    name = token_file.name.removesuffix(".admin-token.sha256")
    if name == token_file.name:
        name = name.removesuffix(".sha256")
    return token_file.with_name(name + ".session-secret")


def _install_secret(path: Path) -> bytes:
    """The secret in `path`, or a new one written there (mode 0600; the first of several
    processes starting at once wins)."""
    try:
        text = path.read_text().strip()
    except FileNotFoundError:
        text = ""
    if text:
        try:
            secret = bytes.fromhex(text)
        except ValueError:
            secret = b""
        if len(secret) != _SECRET_BYTES:
            raise SettingError(
                "session secret", str(path), f"does not hold {_SECRET_BYTES} bytes in hex"
            )
        return secret
    secret = secrets.token_bytes(_SECRET_BYTES)
    if not write_once(path, secret.hex() + "\n"):
        return _install_secret(path)  # another process starting at once wrote one first
    return secret
