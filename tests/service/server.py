"""A real uvicorn server for the service tests: the app on a free port, in a thread of its own
(its own event loop, as in production), stopped as a SIGTERM stops it."""

from __future__ import annotations

import contextlib
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import httpx2
import uvicorn
from sse_starlette.sse import AppStatus

T = TypeVar("T")
DEADLINE = 15.0  # seconds: far beyond anything here, short enough to fail fast


class Server:
    """uvicorn serving `app` on 127.0.0.1 at a port the OS chose."""

    def __init__(self, app: Any, **settings: Any) -> None:
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.socket.bind(("127.0.0.1", 0))
        self.port = self.socket.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        settings = {"log_level": "warning", "timeout_graceful_shutdown": 10, **settings}
        config = uvicorn.Config(app, lifespan="on", **settings)
        self.uvicorn = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=self.uvicorn.run, kwargs={"sockets": [self.socket]}, name="uvicorn"
        )

    def start(self) -> Server:
        self.thread.start()
        until(lambda: self.uvicorn.started or not self.thread.is_alive(), "uvicorn to start")
        if not self.uvicorn.started:
            raise AssertionError("uvicorn did not start (see its log above)")
        return self

    def stop(self, timeout: float = DEADLINE) -> float:
        """Stop as a SIGTERM does (sse-starlette hears it and ends open streams); the seconds
        it took."""
        began = time.monotonic()
        self.uvicorn.handle_exit(signal.SIGTERM, None)
        self.thread.join(timeout)
        took = time.monotonic() - began
        # The flag is process-wide and never reset: the next server in this process must not
        # find its streams ended before they begin.
        AppStatus.should_exit = False
        self.socket.close()
        if self.thread.is_alive():
            raise AssertionError(f"uvicorn did not stop within {timeout} s")
        return took


@contextlib.contextmanager
def serving(app: Any, **config: Any) -> Iterator[Server]:
    """`app` served while in the block; `config` goes to uvicorn (e.g. ``root_path``)."""
    server = Server(app, **config).start()
    try:
        yield server
    finally:
        if server.thread.is_alive():
            server.stop()


def client(server: Server, token: str | None) -> httpx2.Client:
    headers = {} if token is None else {"Authorization": f"Bearer {token}"}
    return httpx2.Client(base_url=server.url, headers=headers, timeout=DEADLINE)


def until(check: Callable[[], T | bool | None], what: str, timeout: float = DEADLINE) -> T:
    """Poll `check` until it gives something true; fail after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value  # type: ignore[return-value]
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout} s")
        time.sleep(0.01)


class Stream:
    """A server-sent event stream read line by line: events as dicts of their fields, and the
    comments seen."""

    def __init__(self, http: httpx2.Client, path: str, headers: dict[str, str] | None = None):
        self._context = http.stream("GET", path, headers=headers or {})
        self.response = self._context.__enter__()
        self._lines = self.response.iter_lines()
        self.comments = 0
        self.events: list[dict[str, str]] = []

    def next_event(self) -> dict[str, str]:
        fields: dict[str, str] = {}
        for line in self._lines:
            if line == "":
                if fields:
                    self.events.append(fields)
                    return fields
                continue
            if line.startswith(":"):
                self.comments += 1
                continue
            name, _, value = line.partition(":")
            fields[name] = value[1:] if value.startswith(" ") else value
        raise EOFError("the stream ended")

    def comments_until(self, count: int) -> float:
        """Read until `count` comments came (events may come between); the seconds it took."""
        began = time.monotonic()
        seen = self.comments + count
        for line in self._lines:
            if line.startswith(":"):
                self.comments += 1
                if self.comments >= seen:
                    return time.monotonic() - began
        raise EOFError("the stream ended")

    def until(self, check: Callable[[dict[str, str]], bool], what: str) -> dict[str, str]:
        """Read events until one passes `check` (the read timeout bounds the wait)."""
        deadline = time.monotonic() + DEADLINE
        while time.monotonic() < deadline:
            event = self.next_event()
            if check(event):
                return event
        raise AssertionError(f"{what}: not within {DEADLINE} s; saw {self.events[-20:]}")

    def close(self) -> None:
        self._context.__exit__(None, None, None)

    def __enter__(self) -> Stream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
