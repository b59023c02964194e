"""What every route depends on: the app's `Rota`, and the caller's role (checked per request,
by the HTTP method: see `rota.service.auth`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials

from rota.app import Rota
from rota.service.auth import READ_METHODS, Role, Tokens, bearer, presented_token

__all__ = ["RotaDep", "authorize", "rota_of"]


def rota_of(request: Request) -> Rota:
    """The `Rota` this app serves."""
    rota: Rota = request.app.state.rota
    return rota


RotaDep = Annotated[Rota, Depends(rota_of)]


def authorize(
    request: Request,
    _declared: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Role:
    """The caller's role: 401 without a known token, 403 for a viewer asking to change
    anything (any method but GET, HEAD and OPTIONS)."""
    tokens: Tokens = request.app.state.rota_tokens
    role = tokens.role_of(presented_token(request))
    if role is None:
        raise HTTPException(
            401,
            "a valid token is needed: Authorization: Bearer <token>",
            headers={"WWW-Authenticate": "Bearer"},
        )
    if request.method not in READ_METHODS and role is not Role.ADMIN:
        raise HTTPException(403, f"the {role.value} token may only read; this needs admin")
    return role
