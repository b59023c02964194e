"""``/api/session``: a browser logs in with a token and gets the session cookie and its CSRF
token, asks who it is after a reload, and logs out (docs/decisions/0010)."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, HTTPException, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from rota.app import Rota
from rota.service.auth import Tokens
from rota.service.deps import session_of
from rota.service.login_limit import LoginLimiter
from rota.service.schemas import ErrorOut
from rota.service.session import COOKIE, CSRF_HEADER, LIFETIME, Session, Sessions

__all__ = ["SessionIn", "SessionOut", "router"]

router = APIRouter(tags=["session"])


class SessionIn(BaseModel):
    """A login: the admin or the viewer token."""

    token: str = Field(min_length=1, max_length=1000, examples=["<your admin or viewer token>"])

    model_config = ConfigDict(extra="forbid")


class SessionOut(BaseModel):
    """Who the session is, and the token its writes must send in the X-CSRF-Token header."""

    role: Literal["admin", "viewer"]
    csrf_token: str = Field(description=f"Send it as the {CSRF_HEADER} header on every write.")

    @classmethod
    def of(cls, session: Session) -> SessionOut:
        return cls(role=session.role.value, csrf_token=session.csrf_token)


def _error(description: str) -> dict[str, Any]:
    return {"model": ErrorOut, "description": description}


def _no_values(endpoint: Any) -> Any:
    """Mark `endpoint`: its invalid bodies are not echoed in errors (they may hold a token)."""
    endpoint.rota_hide_input = True
    return endpoint


def client_address(request: Request) -> str:
    """The client's address as the server sees it (a trusted proxy's ``X-Forwarded-For``
    when uvicorn runs with ``--proxy-headers``)."""
    return request.client.host if request.client else "unknown"


def cookie_path(request: Request) -> str:
    """The app's root: ``/`` on its own, ``/jobs-admin`` when mounted there."""
    root: str = request.scope.get("root_path") or "/"
    return root


@router.post(
    "/session",
    response_model=SessionOut,
    summary="Log in",
    responses={
        401: _error("Not a token this app accepts."),
        422: _error("The body is not {token} (its value is not shown back)."),
        429: _error("Too many failed logins from this address: see Retry-After."),
    },
)
@_no_values
async def log_in(body: SessionIn, request: Request, response: Response) -> SessionOut:
    """Exchange a token for a session cookie (``rota_session``: HttpOnly, SameSite=Strict,
    Secure over https, for 12 hours) and the CSRF token its writes must send. Failed logins
    are limited per client address."""
    rota: Rota = request.app.state.rota
    limiter: LoginLimiter = request.app.state.rota_login_limiter
    address = client_address(request)
    now = rota.clock.now()
    wait = limiter.retry_after(address, now)
    if wait is not None:
        raise HTTPException(
            429,
            f"too many failed logins from {address}: try again in {wait} s",
            headers={"Retry-After": str(wait)},
        )
    tokens: Tokens = request.app.state.rota_tokens
    role = tokens.role_of(body.token)
    if role is None:
        limiter.failed(address, now)
        raise HTTPException(401, "not a token this app accepts")
    sessions: Sessions = request.app.state.rota_sessions
    value, session = sessions.issue(role, now)
    max_age = int(LIFETIME.total_seconds())
    response.set_cookie(
        COOKIE,
        value,
        max_age=max_age,
        expires=max_age,
        path=cookie_path(request),
        secure=request.url.scheme == "https",
        httponly=True,
        samesite="strict",
    )
    response.headers["Cache-Control"] = "no-store"
    return SessionOut.of(session)


@router.get(
    "/session",
    response_model=SessionOut,
    summary="Who am I",
    responses={401: _error("No valid session cookie.")},
)
async def who_am_i(request: Request, response: Response) -> SessionOut:
    """The session's role and CSRF token (a page calls it after a reload)."""
    session = session_of(request)
    if session is None:
        raise HTTPException(401, "no valid session: log in with POST /api/session")
    response.headers["Cache-Control"] = "no-store"
    return SessionOut.of(session)


@router.delete("/session", status_code=204, response_class=Response, summary="Log out")
async def log_out(request: Request) -> Response:
    """Clear the session cookie from the browser (it needs no CSRF token)."""
    response = Response(status_code=204)
    response.delete_cookie(
        COOKIE,
        path=cookie_path(request),
        secure=request.url.scheme == "https",
        httponly=True,
        samesite="strict",
    )
    return response
