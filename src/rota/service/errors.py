"""rota's errors as JSON responses that name the field and the value at fault.

ScheduleError and SettingError → 422, UnknownJobError and UnknownRunError → 404, ConflictError →
409, StoreUnavailableError → 503, a request that does not fit its schema (malformed JSON, a wrong
type, an id too big) → 422. Bad input never makes a 500. Other HTTP errors (no token, a viewer's
write, no such route) are named by their status: ``Unauthorized``, ``Forbidden``, ``NotFound``.
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from rota.errors import (
    ConflictError,
    RotaError,
    ScheduleError,
    SettingError,
    StoreUnavailableError,
    UnknownJobError,
    UnknownRunError,
)
from rota.service.schemas import ErrorOut

__all__ = ["ERROR_RESPONSES", "error_response", "install"]

log = logging.getLogger("rota.service")
_SHOWN = 200  # characters of a value at fault shown back


def error_response(
    status: int,
    error: str,
    message: str,
    *,
    field: str | None = None,
    value: object = None,
    reason: str | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    """A JSON error body (`ErrorOut`)."""
    shown = None if value is None else str(value)[:_SHOWN]
    body = ErrorOut(error=error, message=message, field=field, value=shown, reason=reason)
    return JSONResponse(body.model_dump(), status_code=status, headers=headers)


def _rota_error(request: Request, exc: Exception) -> JSONResponse:
    name = type(exc).__name__
    if isinstance(exc, ScheduleError | SettingError):
        return error_response(
            422, name, str(exc), field=exc.field, value=exc.value, reason=exc.reason
        )
    if isinstance(exc, UnknownJobError):
        return error_response(404, name, str(exc), field="job", value=exc.name)
    if isinstance(exc, UnknownRunError):
        return error_response(404, name, str(exc), field="run", value=exc.run_id)
    if isinstance(exc, ConflictError):
        return error_response(409, name, str(exc))
    if isinstance(exc, StoreUnavailableError):
        return error_response(503, name, str(exc), headers={"Retry-After": "5"})
    log.error("rota service: %s on %s %s", exc, request.method, request.url.path)
    return error_response(500, name, str(exc))


def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors: list[dict[str, Any]] = list(exc.errors())
    first = errors[0] if errors else {"loc": (), "msg": "invalid request", "input": None}
    location = [str(part) for part in first.get("loc") or ()]
    # ("body", "schedule") → "schedule"; ("query", "status", 0) → "status"; a whole body → "body"
    inner = location[1:] if location[:1] == ["body"] else location[1:2]
    field = ".".join(inner) or (location[0] if location else "request")
    value = first.get("input")
    # A validator's own words, without pydantic's "Value error, " before them.
    reason = str(first.get("msg", "invalid")).removeprefix("Value error, ")
    if first.get("type") == "json_invalid":
        field, value, reason = "body", None, "is not valid JSON"
    if getattr(request.scope.get("endpoint"), "rota_hide_input", False):
        value = None  # a login's body: what was sent may be a token
    return error_response(
        422, "ValidationError", f"{field}: {reason}", field=field, value=value, reason=reason
    )


def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    headers = dict(exc.headers or {})
    if exc.status_code == 400:  # FastAPI's "error parsing the body" (bytes that are not text)
        reason = "is not valid JSON"
        return error_response(
            422, "ValidationError", f"body: {reason}", field="body", reason=reason
        )
    return error_response(
        exc.status_code, _status_name(exc.status_code), str(exc.detail), headers=headers
    )


def _status_name(status: int) -> str:
    """An HTTP error's name from its status: 401 → ``Unauthorized``, 404 → ``NotFound``."""
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:  # a status the standard does not name
        return "HTTPError"
    return "".join(word[:1].upper() + word[1:] for word in phrase.replace("-", " ").split())


def install(app: FastAPI) -> None:
    """Make `app` answer rota's errors and invalid requests as above."""
    app.add_exception_handler(RotaError, _rota_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorOut, "description": "No token or session cookie, or an unknown one."},
    403: {
        "model": ErrorOut,
        "description": "The viewer may only read; a write with the session cookie needs its "
        "X-CSRF-Token.",
    },
    422: {"model": ErrorOut, "description": "A field's value is invalid (named)."},
    503: {"model": ErrorOut, "description": "The store cannot be reached now."},
}
"""The errors every API route may answer, for the OpenAPI spec."""
