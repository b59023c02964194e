"""`run_demo`: the demo's jobs and rota's admin service under uvicorn, until Ctrl-C.

The admin token is the demo's own: made on first start, kept in ``<data_dir>/admin-token``
(mode 0600) and printed at every start, because a visitor needs it to use the service. A real
app keeps its token secret (docs/service.md).
"""

from __future__ import annotations

import contextlib
import errno
import signal
import socket
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

from rota.demo.app import Demo, build_demo
from rota.demo.keys import kept_secret
from rota.demo.library import LibraryError
from rota.demo.plan import PLAN
from rota.demo.tmdb_client import KEY_FILE
from rota.errors import RotaError

if TYPE_CHECKING:
    import uvicorn

__all__ = ["DemoError", "run_demo"]

TOKEN_FILE = "admin-token"


class DemoError(Exception):
    """The demo cannot start; the message says why and what to do."""


def run_demo(
    *,
    fast: bool = False,
    host: str = "127.0.0.1",
    port: int = 8000,
    data_dir: Path = Path(".demo"),
) -> None:
    """Start the media-server demo: its jobs on the sample library in `data_dir` (made on first
    start) and rota's admin service on http://host:port, until Ctrl-C (or SIGTERM) stops it
    gracefully. `fast` compresses the day: each job starts within a minute and runs every
    10-60 s. Prints the URL and the admin token. Anything that stops it from starting (the
    port is taken, the service extra is missing, the data directory is unusable) is printed
    on stderr and ends it with SystemExit(1)."""
    try:
        _run(fast=fast, host=host, port=port, data_dir=Path(data_dir))
    except DemoError as error:
        print(f"rota demo: {error}", file=sys.stderr, flush=True)
        raise SystemExit(1) from None


def _run(*, fast: bool, host: str, port: int, data_dir: Path) -> None:
    try:  # checked before anything is bound or made; _serve uses them
        import uvicorn  # noqa: F401

        from rota import asgi  # noqa: F401
    except ImportError as error:
        raise DemoError(
            f"the demo serves rota's admin API, which needs the service extra ({error}): "
            "pip install 'rota[service]'"
        ) from None
    listener = _listen(host, port)
    with contextlib.closing(listener):
        try:
            demo = build_demo(data_dir, fast=fast)
            token = admin_token(data_dir / TOKEN_FILE)
        except (OSError, LibraryError, RotaError) as error:
            raise DemoError(f"cannot use the data directory {data_dir}: {error}") from None
        try:
            _serve(demo, listener, host, token, fast)
        except BaseException:
            demo.close()
            raise
    runs = demo.rota.runs(limit=1).total
    demo.close()
    print(f"rota demo: stopped; {runs} runs recorded in {data_dir / 'rota.db'}", flush=True)


def _serve(demo: Demo, listener: socket.socket, host: str, token: str, fast: bool) -> None:
    """Serve the admin service (the engine starting with it) until Ctrl-C or SIGTERM."""
    import uvicorn

    from rota import asgi

    if demo.first_start and not fast:
        first_runs(demo)
    app = asgi(demo.rota, start_engine=True, admin_token=token)
    bound = listener.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", lifespan="on", timeout_graceful_shutdown=5)
    server = _server(config, lambda: _banner(demo, host, bound, token, fast))
    interrupted = False
    with _sigterm_as_interrupt():
        try:
            server.run(sockets=[listener])
        except KeyboardInterrupt:  # uvicorn stopped gracefully, then passed the signal on
            interrupted = True
        except SystemExit as exit_:  # uvicorn's way to say the app did not start
            if exit_.code not in (0, None):
                raise DemoError("the service did not start: see the error above") from None
    if not server.started and not interrupted:
        raise DemoError("the service did not start: see the error above")


def _listen(host: str, port: int) -> socket.socket:
    """The listening socket, bound now so that a taken port is said plainly."""
    if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
        raise DemoError(f"port {port!r} is not a port number 0-65535")
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
    except socket.gaierror as error:
        raise DemoError(f"host {host!r} is not an address of this machine: {error}") from None
    listener = socket.socket(family, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind((host, port))
    except OSError as error:
        listener.close()
        if error.errno == errno.EADDRINUSE:
            raise DemoError(
                f"port {port} on {host} is taken (another rota demo, or another server?): "
                "stop it, or choose another port with --port"
            ) from None
        if error.errno == errno.EACCES:
            raise DemoError(
                f"port {port} on {host} needs privileges: choose a port above 1023 with --port"
            ) from None
        raise DemoError(f"cannot listen on {host}:{port}: {error.strerror or error}") from None
    listener.listen(128)
    return listener


def admin_token(path: Path) -> str:
    """The demo's admin token: read from `path`, or made and written there (mode 0600)."""
    return kept_secret(path)


def first_runs(demo: Demo) -> list[int]:
    """On a first start with real schedules, run every job with times of its own once now, so
    that the history is not empty until 01:00 (the ids of the runs). The jobs after others
    follow their upstream's run (a run of their own now would race it), and fetch-artwork
    follows the scan that spawns it."""
    return [demo.rota.run_now(plan.name) for plan in PLAN if plan.timed]


def _banner(demo: Demo, host: str, port: int, token: str, fast: bool) -> None:
    shown = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    if ":" in shown:
        shown = f"[{shown}]"
    url = f"http://{shown}:{port}"
    data_dir = demo.server.library.path.parent
    mode = "fast: each within a minute, then every 10-60 s" if fast else "real schedules"
    lines = [
        f"rota demo: {url}  admin token: {token}  (Ctrl-C stops)",
        f"  {len(PLAN)} jobs of a media server ({mode}) on a sample library in {data_dir}/",
        f"  the token is the demo's own, kept in {data_dir / TOKEN_FILE}; a real app keeps its",
        "  token secret. Try: curl -H 'Authorization: Bearer <token>' " + f"{url}/api/jobs",
        f"  a local TMDb on {demo.tmdb.url}, 40 requests per 10 s: the tmdb limiter paces the",
        "  jobs to it (a request that arrives late, at the edge of a window, may still get a 429,",
        f"  which the job waits out); its API key is in {data_dir / KEY_FILE}",
    ]
    if demo.first_start and not fast:
        lines.append(
            "  first start: every job runs once now (recommendations and library-build after "
            "embeddings), then on its schedule"
        )
    print("\n".join(lines), flush=True)


def _server(config: uvicorn.Config, started: Callable[[], None]) -> uvicorn.Server:
    """uvicorn's server, calling `started` once it serves (after the engine has started)."""
    import uvicorn

    class Server(uvicorn.Server):
        async def startup(self, sockets: list[socket.socket] | None = None) -> None:
            await super().startup(sockets)
            if self.started:
                started()

    return Server(config)


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM stops the demo as Ctrl-C does: uvicorn shuts down gracefully on either, then
    passes the signal on to the handler it found, which is this one."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
