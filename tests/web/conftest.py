"""The page's tests: a real uvicorn server running the app with its engine on the real clock, and
a real headless Chromium (Debian's ``chromium`` on the PATH, never a downloaded browser) driven
by Playwright. Waits are Playwright's auto-waits and `expect` with a deadline, never sleeps.

One server and browser per module; each test signs in in a fresh browser context and uses job
names or runs of its own, so tests do not depend on each other's order."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, Playwright, expect, sync_playwright

from rota import Rota, RunContext, asgi
from tests.service.server import Server, serving

ADMIN = "admin-token-for-web-tests-0123456789"
VIEWER = "viewer-token-for-web-tests-0123456789"
TIMEOUT = 20_000  # ms: far beyond what any step takes, on a busy 2-core machine too

expect.set_options(timeout=TIMEOUT)


def require_login(app: Any) -> None:
    """The page signs in through ``POST /api/session`` (the login work, decision 0010): say
    so plainly rather than time out in the browser when an app lacks it."""
    if "/api/session" not in app.openapi()["paths"]:
        pytest.fail("the page's tests need POST /api/session (browser login) in rota.asgi")


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.fail("the page tests need Debian's chromium on the PATH: apt-get install chromium")
    browser = playwright.chromium.launch(executable_path=chromium)
    yield browser
    browser.close()


def make_rota(url: str) -> Rota:
    """A small app: jobs that echo, wait (with progress) until cancelled or done, fail, and
    one on a daily schedule."""
    rota = Rota(url, timezone="Europe/Berlin", heartbeat=1, lease=3, shutdown_grace=1)

    @rota.job("echo", args={"text": "hi"})
    def echo(ctx: RunContext, text: str = "hi") -> str:
        """Log its text."""
        ctx.log.info("echo %s", text)
        return text

    @rota.job("steps")
    def steps(ctx: RunContext, count: int = 3, pause: float = 0.3) -> None:
        """Count to `count`, a step every `pause` seconds, reporting progress."""
        for done in range(count):
            ctx.progress(done, count, f"step {done + 1} of {count}")
            ctx.log.info("step %s", done + 1)
            deadline = time.monotonic() + pause
            while time.monotonic() < deadline and not ctx.cancelled:
                time.sleep(0.01)
        ctx.progress(count, count, "done")

    @rota.job("slow")
    def slow(ctx: RunContext, seconds: float = 60) -> None:
        """Wait until cancelled or its time is up."""
        ctx.progress(0, 1, "waiting")
        deadline = time.monotonic() + seconds
        while not ctx.cancelled and time.monotonic() < deadline:
            time.sleep(0.01)

    @rota.job("boom")
    def boom() -> None:
        """Fail."""
        raise RuntimeError("boom went the job")

    for name in ("nightly", "weekly-report", "keyboard", "viewer-only"):
        rota.add_job(name, "tests.service.service_jobs:add", schedule="daily 03:00")
    return rota


@dataclass
class Site:
    rota: Rota
    server: Server
    url: str  # the page's root, ending in "/"
    store_url: str


@contextmanager
def serve(folder: Path, make: Callable[[str], Rota]) -> Iterator[Site]:
    """The app `make` builds on a store in `folder`, served with its engine, then closed."""
    store_url = f"sqlite:///{folder}/app.db"
    rota = make(store_url)
    app = asgi(
        rota,
        start_engine=True,
        admin_token=ADMIN,
        viewer_token=VIEWER,
        heartbeat=1.0,
        token_file=folder / "tokens",
    )
    require_login(app)
    with serving(app) as server:
        yield Site(rota, server, server.url + "/", store_url)
    rota.close()


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    with serve(tmp_path_factory.mktemp("web"), make_rota) as served:
        yield served


def sign_in(page: Page, root: str, token: str) -> Page:
    """Sign in through the login form; the jobs page then shows."""
    page.goto(root + "login")
    page.get_by_label("Token").fill(token)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Jobs", level=1)).to_be_visible()
    expect(page.locator("#live")).to_have_text("live")
    return page


@pytest.fixture
def new_page(browser: Browser) -> Iterator[Callable[..., Page]]:
    contexts = []

    def make(**options: Any) -> Page:
        context = browser.new_context(**options)
        context.set_default_timeout(TIMEOUT)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def admin(site: Site, new_page: Callable[..., Page]) -> Page:
    return sign_in(new_page(), site.url, ADMIN)


@pytest.fixture
def viewer(site: Site, new_page: Callable[..., Page]) -> Page:
    return sign_in(new_page(), site.url, VIEWER)


def job_row(page: Page, name: str) -> Any:
    return page.locator(f"tr[id='job-{name}']")


def wait_for(check: Callable[[], Any], what: str, timeout: float = TIMEOUT / 1000) -> Any:
    """Poll `check` (outside the browser) until it gives something true."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout} s")
        time.sleep(0.02)


__all__ = ["ADMIN", "VIEWER", "Path", "Site", "job_row", "serve", "sign_in", "wait_for"]


def serious_violations(found: dict[str, Any]) -> dict[str, list[tuple[str, str, list[Any]]]]:
    """Axe's serious and critical violations of each view in `found` (name → axe result),
    each as (rule, impact, its first three elements)."""
    return {
        name: [
            (v["id"], v["impact"], [n["target"] for n in v["nodes"]][:3])
            for v in result.response["violations"]
            if v["impact"] in ("serious", "critical")
        ]
        for name, result in found.items()
    }
