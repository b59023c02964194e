"""Login, logout, viewers, the page under a sub-path, the keyboard, and axe-core on every page."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
from fastapi import FastAPI
from playwright.sync_api import Page, expect

from rota import Rota, asgi
from tests.service.server import serving
from tests.web.conftest import ADMIN, Site, job_row, require_login, serious_violations, sign_in


def test_the_page_asks_for_a_token_and_refuses_a_wrong_one(
    site: Site, new_page: Callable[..., Page]
) -> None:
    page = new_page()
    page.goto(site.url + "activity")
    expect(page).to_have_url(re.compile(r"/login\?next=activity$"))
    page.get_by_label("Token").fill("not-a-token-of-this-app-0123456789")
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#token-error")).to_have_text("That token is not known.")
    expect(page.get_by_label("Token")).to_have_attribute("aria-invalid", "true")
    page.get_by_label("Token").fill(ADMIN)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Activity", level=1)).to_be_visible()
    page.reload()  # the session outlives a reload (cookie; the CSRF token is read again)
    expect(page.locator("#role")).to_have_text("admin")
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/login$"))
    page.goto(site.url)
    expect(page).to_have_url(re.compile(r"/login"))


def test_a_viewer_sees_no_edit_controls_and_the_server_refuses_edits(
    viewer: Page, site: Site
) -> None:
    expect(viewer.locator("#role")).to_have_text("viewer (read only)")
    expect(job_row(viewer, "viewer-only")).to_be_visible()
    expect(viewer.get_by_role("button", name="Run now")).to_have_count(0)
    expect(viewer.get_by_role("button", name="Pause")).to_have_count(0)
    expect(viewer.get_by_role("button", name=re.compile("^Schedule and policies"))).to_have_count(0)
    run_id = site.rota.run_now("slow", seconds=120)
    try:
        viewer.goto(site.url + "activity")
        expect(viewer.locator(f"#running-{run_id}")).to_be_visible()
        expect(viewer.get_by_role("button", name=re.compile("^Cancel"))).to_have_count(0)
        # Bypassing the page: the viewer's own session, with its CSRF token, is refused.
        statuses = viewer.evaluate(
            """async (runId) => {
                const session = await (await fetch("api/session")).json();
                const headers = {"Content-Type": "application/json",
                                 "X-CSRF-Token": session.csrf_token};
                const patch = await fetch("api/jobs/viewer-only", {method: "PATCH", headers,
                    body: JSON.stringify({schedule: "every 1h"})});
                const cancel = await fetch(`api/runs/${runId}/cancel`,
                    {method: "POST", headers});
                return [patch.status, cancel.status];
            }""",
            run_id,
        )
        assert statuses == [403, 403]
        assert site.rota.job_info("viewer-only").schedule.text == "daily 03:00"
        assert site.rota.get_run(run_id).status == "running"
    finally:
        site.rota.cancel(run_id)


@pytest.fixture
def mounted(tmp_path: Path) -> Iterator[str]:
    rota = Rota(f"sqlite:///{tmp_path}/app.db", timezone="UTC")

    @rota.job("hello", schedule="every 2h")
    def hello() -> None:
        """Say hello."""

    outer = FastAPI()

    @outer.get("/")
    def home() -> dict[str, str]:
        return {"app": "mine"}

    # A mounted app's lifespan does not run (Starlette): the engine runs beside it.
    inner = asgi(rota, admin_token=ADMIN, token_file=tmp_path / "tokens")
    require_login(inner)
    outer.mount("/jobs-admin", inner)
    with rota.running(), serving(outer) as server:
        yield server.url + "/jobs-admin/"
    rota.close()


def test_the_page_works_under_a_sub_path(mounted: str, new_page: Callable[..., Page]) -> None:
    page = new_page()
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    sign_in(page, mounted, ADMIN)
    expect(job_row(page, "hello")).to_contain_text("Every 2 hours")
    page.get_by_role("button", name="Run now").click()
    page.get_by_role("dialog").get_by_role("button", name="Run now").click()
    expect(job_row(page, "hello").locator(".badge")).to_have_text("succeeded")
    job_row(page, "hello").locator(".badge").click()
    expect(page).to_have_url(re.compile(r"/jobs-admin/runs/\d+$"))
    expect(page.locator("#run")).to_contain_text("manual")
    for name in ("Activity", "Timeline", "Nodes"):
        page.get_by_role("navigation", name="Pages").get_by_role("link", name=name).click()
        expect(page.get_by_role("heading", name=name, level=1)).to_be_visible()
        expect(page.locator("#notice")).to_be_hidden()
    outside = [url for url in requests if "/jobs-admin/" not in url]
    assert outside == []


def test_the_schedule_dialog_by_keyboard_alone(admin: Page, site: Site) -> None:
    gear = admin.get_by_role("button", name="Schedule and policies of keyboard")
    gear.focus()
    admin.keyboard.press("Enter")
    dialog = admin.get_by_role("dialog")
    expect(dialog).to_be_visible()
    kind = dialog.get_by_label("Type", exact=True)
    expect(kind).to_be_focused()
    kind.select_option("interval")  # what arrow keys on a focused select do
    admin.keyboard.press("Tab")
    expect(dialog.get_by_label("Every", exact=True)).to_be_focused()
    dialog.get_by_label("Every", exact=True).select_option("6h")
    expect(dialog.locator("#preview li")).to_have_count(5)
    admin.keyboard.press("Escape")  # Cancel: nothing saved
    expect(dialog).to_be_hidden()
    expect(gear).to_be_focused()  # focus returns to the gear
    assert site.rota.job_info("keyboard").overrides == {}
    admin.keyboard.press("Enter")
    expect(dialog).to_be_visible()
    kind.select_option("interval")
    admin.keyboard.press("Tab")
    dialog.get_by_label("Every", exact=True).select_option("6h")
    expect(dialog.locator("#preview li")).to_have_count(5)
    # Tab through to Save, then Enter.
    for _ in range(30):
        admin.keyboard.press("Tab")
        if admin.evaluate("document.activeElement.id") == "schedule-save":
            break
    admin.keyboard.press("Enter")
    expect(dialog).to_be_hidden()
    expect(job_row(admin, "keyboard")).to_contain_text("Every 6 hours")
    site.rota.reset("keyboard")


PAGES = ["", "activity", "timeline", "limiters", "nodes", "runs/1"]


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_axe_finds_no_serious_violation_on_any_page(
    site: Site, new_page: Callable[..., Page], scheme: str
) -> None:
    page = new_page(color_scheme=scheme)
    axe = Axe()
    page.goto(site.url + "login")
    found = {"login": axe.run(page)}
    sign_in(page, site.url, ADMIN)
    site.rota.wait(site.rota.run_now("echo"))
    for path in PAGES:
        page.goto(site.url + path)
        expect(page.locator("[aria-busy=true]")).to_have_count(0)
        found[path or "jobs"] = axe.run(page)
    page.goto(site.url)
    page.get_by_role("button", name="Schedule and policies of nightly").click()
    expect(page.locator("#preview li")).to_have_count(5)
    found["schedule dialog"] = axe.run(page)
    assert serious_violations(found) == {key: [] for key in found}


def test_on_a_phone_nothing_scrolls_sideways(site: Site, new_page: Callable[..., Page]) -> None:
    page = new_page(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    sign_in(page, site.url, ADMIN)
    for path in PAGES:
        page.goto(site.url + path)
        expect(page.locator("[aria-busy=true]")).to_have_count(0)
        overflow = page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, f"{path or 'jobs'} is {overflow} px wider than the phone"
    # The jobs table reads as labelled cards.
    page.goto(site.url)
    cell = job_row(page, "nightly").locator("td[data-label='Next run']")
    label = cell.evaluate("el => getComputedStyle(el, '::before').content")
    assert label == '"Next run: "'
