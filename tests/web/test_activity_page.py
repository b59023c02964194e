"""Run now, live progress, cancel, retry, run detail, and a run started from outside the page
(another Rota client on the same store, as the CLI is) showing up live."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from rota import Rota
from tests.web.conftest import Site, job_row


def test_run_now_with_arguments_and_watch_progress_reach_success(admin: Page) -> None:
    admin.get_by_role("button", name="Run now").and_(admin.locator("#run-steps")).click()
    dialog = admin.get_by_role("dialog")
    dialog.get_by_label("Arguments (JSON object)").fill('{"count": 6, "pause": 1.5}')
    dialog.get_by_role("button", name="Run now").click()
    expect(dialog).to_be_hidden()
    expect(admin.locator("#message")).to_have_text(re.compile(r"^Run \d+ of steps queued\.$"))
    run_id = int(admin.locator("#message").inner_text().split()[1])
    mini = job_row(admin, "steps").get_by_role("progressbar")  # moved by progress events
    expect(mini).to_have_attribute("value", re.compile(r"^[1-9]\d?$"))  # between 0 and 100
    # Its progress, live on the activity page, then its success.
    admin.get_by_role("navigation", name="Pages").get_by_role("link", name="Activity").click()
    bar = admin.locator(f"#running-{run_id}").get_by_role("progressbar")
    expect(bar).to_have_attribute("value", re.compile(r"^[1-9]\d?$"))
    expect(admin.locator(f"#run-{run_id}")).to_contain_text("succeeded")
    admin.locator(f"#run-{run_id}").get_by_role("link", name=f"#{run_id}").click()
    expect(admin).to_have_url(re.compile(rf"/runs/{run_id}$"))
    expect(admin.locator("#run")).to_contain_text('{"count":6,"pause":1.5}')
    expect(admin.locator("#log")).to_contain_text("step 6")
    expect(admin.locator("#run")).to_contain_text("manual")
    # The jobs page shows it as the last run, without a reload.
    admin.get_by_role("navigation", name="Pages").get_by_role("link", name="Jobs").click()
    expect(job_row(admin, "steps").locator(".badge")).to_have_text("succeeded")


def test_activity_shows_live_progress_then_the_finished_run(admin: Page, site: Site) -> None:
    admin.get_by_role("link", name="Activity").click()
    expect(admin.get_by_role("heading", name="Running")).to_be_visible()
    run_id = site.rota.run_now("steps", count=5, pause=1.0)  # 5 s: seen mid-way under load
    card = admin.locator(f"#running-{run_id}")
    bar = card.get_by_role("progressbar")
    expect(bar).to_have_attribute("value", re.compile(r"^(20|40|60|80)$"))
    expect(card).to_contain_text(re.compile(r"step \d of 5"))
    expect(card.locator(".last-line")).to_have_text(re.compile(r"step \d$"))  # the log's
    expect(card).to_have_count(0)  # gone from Running once finished
    expect(admin.locator(f"#run-{run_id}")).to_contain_text("succeeded")


def test_cancel_a_running_run(admin: Page, site: Site) -> None:
    run_id = site.rota.run_now("slow", seconds=120)
    admin.goto(site.url + "activity")
    card = admin.locator(f"#running-{run_id}")
    card.get_by_role("button", name=f"Cancel slow #{run_id}").click()
    expect(card).to_have_count(0)
    row = admin.locator(f"#run-{run_id}")
    expect(row).to_contain_text("cancelled")
    assert site.rota.get_run(run_id).status == "cancelled"
    # A cancelled run may be retried from its row.
    row.get_by_role("button", name=f"Retry slow #{run_id}").click()
    expect(admin.locator("#message")).to_contain_text("Retry queued")
    retried = int(admin.locator("#message").inner_text().split("run ")[-1].rstrip("."))
    site.rota.cancel(retried)


def test_a_failed_run_shows_its_traceback_and_links_its_retry(admin: Page, site: Site) -> None:
    run_id = site.rota.run_now("boom")
    site.rota.wait(run_id, retries=False)
    admin.goto(site.url + f"runs/{run_id}")
    expect(admin.locator("#run-title")).to_contain_text("failed")
    expect(admin.locator("#traceback")).to_contain_text("RuntimeError: boom went the job")
    admin.get_by_role("button", name=f"Retry boom #{run_id}").click()
    expect(admin.get_by_role("link", name=re.compile(r"next: #\d+"))).to_be_visible()
    admin.get_by_role("link", name=re.compile(r"next: #\d+")).click()
    expect(admin.locator("#run")).to_contain_text("retry")
    expect(admin.get_by_role("link", name=f"previous: #{run_id}")).to_be_visible()


def test_a_run_started_from_another_client_appears_live(admin: Page, site: Site) -> None:
    admin.get_by_role("link", name="Activity").click()
    expect(admin.locator("#live")).to_have_text("live")
    other = Rota(site.store_url, timezone="Europe/Berlin")  # as `rota run` in a shell is
    try:
        run_id = other.run_now("echo", text="from outside")
    finally:
        other.close()
    expect(admin.locator(f"#run-{run_id}")).to_contain_text("succeeded")
    admin.locator(f"#run-{run_id}").get_by_role("link").first.click()
    expect(admin.locator("#log")).to_contain_text("echo from outside")


def test_history_filters_and_pages(admin: Page, site: Site) -> None:
    ids = [site.rota.run_now("echo", text=str(n)) for n in range(27)]
    for run_id in ids:
        site.rota.wait(run_id)
    admin.goto(site.url + "activity?job=echo")
    expect(admin.get_by_label("Job", exact=True)).to_have_value("echo")
    info = admin.locator("#page-info")
    expect(info).to_have_text(re.compile(r"^1 to 25 of \d+$"))
    expect(admin.locator("#history tbody tr")).to_have_count(25)
    admin.get_by_role("button", name="Older").click()
    expect(info).to_have_text(re.compile(r"^26 to \d+ of \d+$"))
    admin.get_by_role("button", name="Newer").click()
    expect(info).to_have_text(re.compile(r"^1 to 25 of"))
    admin.get_by_label("Status", exact=True).select_option("failed")
    expect(admin.locator("#history")).to_contain_text("No runs match.")
