"""What every route depends on: the app's `Rota`, and the caller's role (checked per request,
by the HTTP method: see `rota.service.auth`), from a bearer token or a session cookie (whose
writes must carry its CSRF token: see `rota.service.session`)."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials

from rota.app import Rota
from rota.service.auth import READ_METHODS, Role, Tokens, bearer, presented_token
from rota.service.session import COOKIE, CSRF_HEADER, Session, Sessions

__all__ = ["RotaDep", "authorize", "rota_of", "session_of"]


def rota_of(request: Request) -> Rota:
    """The `Rota` this app serves."""
    rota: Rota = request.app.state.rota
    return rota


RotaDep = Annotated[Rota, Depends(rota_of)]
# Declares the scheme in the OpenAPI spec; the check itself is `Sessions.verify`.
session_cookie = APIKeyCookie(
    name=COOKIE,
    auto_error=False,
    description=(
        "The browser session from POST /api/session. Requests that change something "
        f"(not GET, HEAD or OPTIONS) must also send the session's CSRF token as {CSRF_HEADER}."
    ),
)


def session_of(request: Request) -> Session | None:
    """The valid session of a request's cookie, if it has one."""
    sessions: Sessions = request.app.state.rota_sessions
    rota: Rota = request.app.state.rota
    return sessions.verify(request.cookies.get(COOKIE), rota.clock.now())


def authorize(
    request: Request,
    _bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    _cookie: Annotated[str | None, Depends(session_cookie)],
) -> Role:
    """The caller's role, from its bearer token, else its session cookie: 401 without either
    (a bearer token that is not known is not made up for by a cookie), 403 for a cookie's
    write without its CSRF token, and 403 for a viewer asking to change anything (any method
    but GET, HEAD and OPTIONS)."""
    tokens: Tokens = request.app.state.rota_tokens
    writes = request.method not in READ_METHODS
    token = presented_token(request)
    if token is not None:
        role = tokens.role_of(token)
    else:
        session = session_of(request)
        role = None if session is None else session.role
        if session is not None and writes:
            sent = request.headers.get(CSRF_HEADER, "")
            if not hmac.compare_digest(sent.encode(), session.csrf_token.encode()):
                raise HTTPException(
                    403,
                    f"a write with the session cookie needs the {CSRF_HEADER} header: the "
                    "csrf_token from POST or GET /api/session",
                )
    if role is None:
        raise HTTPException(
            401,
            "a valid token is needed: Authorization: Bearer <token>, or the session cookie "
            "from POST /api/session",
            headers={"WWW-Authenticate": "Bearer"},
        )
    if writes and role is not Role.ADMIN:
        raise HTTPException(403, f"the {role.value} token may only read; this needs admin")
    return role
