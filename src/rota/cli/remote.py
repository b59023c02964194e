"""The backend through a running service (``--url``): its REST API with a bearer token, over the
standard library's HTTP client (the CLI's remote mode needs no extra package). The service's
JSON errors become the `RotaError` the library would have raised, so the CLI says the same."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

from rota.cli.backend import CommandError, Json
from rota.cli.shapes import normal_times
from rota.engine.settings import OVERRIDABLE
from rota.errors import (
    ConflictError,
    RotaError,
    ScheduleError,
    SettingError,
    StoreUnavailableError,
    UnknownJobError,
    UnknownRunError,
)

__all__ = ["RemoteBackend"]

TIMEOUT = 30.0
"""Seconds to wait for an answer (an event stream sends a comment every 15 s by default)."""


class RemoteBackend:
    """`Backend` over the REST API at `url` (the service's root: ``http://host:8000`` or
    ``https://example.org/jobs-admin``)."""

    def __init__(self, url: str, token: str, token_env: str) -> None:
        parsed = urllib.parse.urlsplit(url)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise CommandError(f"url: {url!r} is not an http:// or https:// URL", 2)
        self.where = url.rstrip("/")
        self._token = token
        self._token_env = token_env

    # -- jobs ---------------------------------------------------------------------------------

    def jobs(self, internal: bool) -> list[Json]:
        found: list[Json] = self._call("GET", "/jobs", {"internal": str(internal).lower()})
        return found

    def job(self, name: str) -> Json:
        found: Json = self._call("GET", f"/jobs/{_part(name)}")
        return found

    def run_now(self, name: str, args: Json, at: datetime | None) -> Json:
        body: Json = {"args": args}
        if at is not None:
            body["at"] = at.isoformat()
        created: Json = self._call("POST", f"/jobs/{_part(name)}/runs", body=body)
        return created

    def pause(self, name: str, note: str | None) -> Json:
        return self._patch(name, {"paused": True, "note": note})

    def resume(self, name: str) -> Json:
        return self._patch(name, {"paused": False})

    def override(self, name: str, settings: Json) -> Json:
        unknown = [key for key in settings if key not in OVERRIDABLE and key != "requires"]
        if unknown:
            # The API refuses it as an extra field; say it as the library does, naming it and
            # what may be overridden, after an unknown job (as the library checks them).
            self.job(name)
            allowed = ", ".join(sorted(OVERRIDABLE))
            key = unknown[0]
            raise SettingError(
                "setting",
                key,
                f"{key!r} is not an overridable setting; an admin may override {allowed}",
            )
        return self._patch(name, settings)

    def _patch(self, name: str, body: Json) -> Json:
        changed: Json = self._call("PATCH", f"/jobs/{_part(name)}", body=body)
        return changed

    def reset(self, name: str, settings: Sequence[str]) -> Json:
        if not settings:
            reset: Json = self._call("DELETE", f"/jobs/{_part(name)}/overrides")
            return reset
        self.job(name)  # an unknown job first, then a setting that cannot be reset, as the
        for key in settings:  # library checks them: before any is reset
            if key not in OVERRIDABLE:
                raise SettingError("setting", key, f"{key!r} is not an overridable setting")
        for setting in settings:
            reset = self._call("DELETE", f"/jobs/{_part(name)}/overrides/{_part(setting)}")
        return reset

    def remove(self, name: str) -> None:
        self._call("DELETE", f"/jobs/{_part(name)}")

    # -- runs ---------------------------------------------------------------------------------

    def runs(
        self,
        job: str | None,
        statuses: Sequence[str],
        reasons: Sequence[str],
        limit: int,
        before: int | None,
        parent: int | None = None,
    ) -> Json:
        query: list[tuple[str, str]] = [("limit", str(limit))]
        if job is not None:
            query.append(("job", job))
        query += [("status", s) for s in statuses] + [("reason", r) for r in reasons]
        if before is not None:
            query.append(("cursor", str(before)))
        if parent is not None:
            query.append(("parent_run_id", str(parent)))
        page: Json = self._call("GET", "/runs", query)
        return page

    def run(self, run_id: int) -> Json:
        found: Json = self._call("GET", f"/runs/{run_id}")
        return found

    def cancel(self, run_id: int) -> Json:
        found: Json = self._call("POST", f"/runs/{run_id}/cancel")
        return found

    def limiters(self) -> list[Json]:
        found: list[Json] = self._call("GET", "/limiters")
        return found

    def retry(self, run_id: int) -> Json:
        created: Json = self._call("POST", f"/runs/{run_id}/retry")
        return created

    def events(self, after: int | None) -> Iterator[Json]:
        query = {} if after is None else {"after": str(after)}
        request = self._request("GET", "/events", query, None)
        request.add_header("Accept", "text/event-stream")
        with self._open(request) as response:
            data: list[str] = []
            for raw in response:
                line = raw.decode("utf-8").rstrip("\r\n")
                if line.startswith("data:"):
                    data.append(line[5:].removeprefix(" "))
                elif not line and data:
                    yield normal_times(json.loads("\n".join(data)))
                    data = []

    def close(self) -> None:
        pass

    # -- HTTP ---------------------------------------------------------------------------------

    def _call(
        self,
        method: str,
        path: str,
        query: dict[str, str] | list[tuple[str, str]] | None = None,
        body: Json | None = None,
    ) -> Any:
        request = self._request(method, path, query, body)
        with self._open(request) as response:
            text = response.read()
        return normal_times(json.loads(text)) if text else None

    def _request(
        self,
        method: str,
        path: str,
        query: dict[str, str] | list[tuple[str, str]] | None,
        body: Json | None,
    ) -> urllib.request.Request:
        url = f"{self.where}/api{path}"
        if query:
            url += "?" + urllib.parse.urlencode(query)
        data = None if body is None else json.dumps(body).encode()
        headers = {"Authorization": f"Bearer {self._token}", "Accept": "application/json"}
        if data is not None:
            headers["Content-Type"] = "application/json"
        return urllib.request.Request(url, data=data, headers=headers, method=method)

    def _open(self, request: urllib.request.Request) -> Any:
        try:
            return urllib.request.urlopen(request, timeout=TIMEOUT)
        except urllib.error.HTTPError as error:
            raise self._error(error) from None
        except (urllib.error.URLError, OSError) as error:
            reason = getattr(error, "reason", error)
            raise CommandError(f"service: {self.where} cannot be reached: {reason}") from None

    def _error(self, error: urllib.error.HTTPError) -> RotaError:
        try:
            body = json.loads(error.read() or b"{}")
        except ValueError:
            body = {}
        if not isinstance(body, dict):
            body = {}
        kind = str(body.get("error", ""))
        message = str(body.get("message") or error.reason)
        field, value, reason = body.get("field"), body.get("value"), body.get("reason")
        status = error.code
        if status == 401:
            return CommandError(
                f"token: the service at {self.where} does not accept the token in "
                f"${self._token_env}"
            )
        if status == 403:
            return CommandError(
                f"token: the token in ${self._token_env} may only read; this needs the admin token"
            )
        if status == 404 and field == "job":
            return UnknownJobError(str(value))
        if status == 404 and field == "run":
            return UnknownRunError(_number(value))
        if status == 422 and field is not None and reason is not None:
            kind_of = ScheduleError if kind == "ScheduleError" else SettingError
            return kind_of(str(field), str(value), str(reason))
        if status == 409:
            return ConflictError(message)
        if status == 503:
            return StoreUnavailableError(message)
        if status == 404:
            return CommandError(
                f"service: {self.where} has no rota API at {error.url} (is --url the "
                "service's root?)"
            )
        return CommandError(f"service: {self.where} answered {status}: {message}")


def _part(text: str) -> str:
    return urllib.parse.quote(text, safe="")


def _number(value: object) -> Any:
    try:
        return int(str(value))
    except ValueError:
        return value
