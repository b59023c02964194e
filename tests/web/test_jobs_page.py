"""The jobs page and its schedule dialog, driven in a real Chromium."""

from __future__ import annotations

import re
from datetime import datetime

from playwright.sync_api import Page, expect

from tests.web.conftest import Site, job_row


def test_the_jobs_page_lists_jobs_with_schedule_and_next_run(admin: Page) -> None:
    row = job_row(admin, "nightly")
    expect(row).to_contain_text("Every day at 03:00")
    expect(row.locator("time")).to_have_text(re.compile(r"^in \d+ (h|min)"))
    expect(job_row(admin, "echo")).to_contain_text("Log its text.")
    expect(job_row(admin, "echo")).to_contain_text("never")  # no run yet


def test_changing_the_schedule_in_the_dialog_moves_the_next_run(admin: Page, site: Site) -> None:
    row = job_row(admin, "weekly-report")
    before = row.locator("time").first.get_attribute("datetime")
    admin.get_by_role("button", name="Schedule and policies of weekly-report").click()
    dialog = admin.get_by_role("dialog")
    expect(dialog).to_be_visible()
    dialog.get_by_label("Type", exact=True).select_option("weekly")
    dialog.get_by_label("Tue", exact=True).check()
    dialog.get_by_label("Time", exact=True).fill("04:30")
    # The preview follows the fields: five Tuesdays at 04:30 in the server's zone.
    expect(dialog.locator("#preview li")).to_have_count(5)
    expect(dialog.locator("#preview-title")).to_contain_text("Europe/Berlin")
    expect(dialog.locator("#preview li").first).to_contain_text("04:30")
    dialog.get_by_role("button", name="Save").click()
    expect(dialog).to_be_hidden()
    expect(row).to_contain_text("Tuesday")
    expect(row).to_contain_text("overridden")
    after = row.locator("time").first.get_attribute("datetime")
    assert after != before
    job = site.rota.job_info("weekly-report")
    assert job.schedule.text == "weekly tue 04:30"
    assert after is not None
    assert job.next_fire_at == datetime.fromisoformat(after)
    # Reset to default: the code's schedule again.
    admin.get_by_role("button", name="Schedule and policies of weekly-report").click()
    # The dialog opens on the schedule in force, in its fields.
    expect(dialog.get_by_label("Type", exact=True)).to_have_value("weekly")
    expect(dialog.get_by_label("Tue", exact=True)).to_be_checked()
    expect(dialog.get_by_label("Mon", exact=True)).not_to_be_checked()
    expect(dialog.get_by_label("Time", exact=True)).to_have_value("04:30")
    dialog.get_by_role("button", name="Reset to default").click()
    expect(dialog).to_be_hidden()
    expect(row).not_to_contain_text("overridden")
    assert site.rota.job_info("weekly-report").schedule.text == "daily 03:00"


def test_a_bad_cron_expression_names_the_field_and_saves_nothing(admin: Page, site: Site) -> None:
    admin.get_by_role("button", name="Schedule and policies of nightly").click()
    dialog = admin.get_by_role("dialog")
    dialog.get_by_label("Type", exact=True).select_option("cron")
    cron = dialog.get_by_label("Cron expression")
    cron.fill("61 3 * * *")
    expect(dialog.locator("#schedule-error")).to_contain_text("minute")
    expect(cron).to_have_attribute("aria-invalid", "true")
    expect(dialog.locator("#preview li")).to_have_count(0)
    dialog.get_by_role("button", name="Save").click()
    expect(dialog.locator("#schedule-error")).to_contain_text("61")
    expect(dialog).to_be_visible()  # not saved, still open
    dialog.get_by_role("button", name="Cancel").click()
    assert site.rota.job_info("nightly").schedule.text == "daily 03:00"
    assert site.rota.job_info("nightly").overrides == {}


def test_the_dialog_shows_defaults_beside_overrides(admin: Page, site: Site) -> None:
    site.rota.override("nightly", overlap="queue")
    try:
        admin.reload()
        admin.get_by_role("button", name="Schedule and policies of nightly").click()
        dialog = admin.get_by_role("dialog")
        expect(dialog.get_by_label("If the last run is still running")).to_have_value("queue")
        expect(dialog.locator("#d-overlap")).to_have_text("default: skip · changed")
        expect(dialog.locator("#d-catch_up")).to_have_text("default")
        dialog.get_by_role("button", name="Cancel").click()
    finally:
        site.rota.reset("nightly")


def test_pause_with_a_note_then_resume(admin: Page, site: Site) -> None:
    row = job_row(admin, "nightly")
    row.get_by_role("button", name="Pause").click()
    dialog = admin.get_by_role("dialog")
    dialog.get_by_label("Note (why)").fill("disk full")
    dialog.get_by_role("button", name="Pause").click()
    expect(row).to_contain_text("paused: disk full")
    assert site.rota.job_info("nightly").pause_note == "disk full"
    row.get_by_role("button", name="Resume").click()
    expect(row).not_to_contain_text("paused")
    assert not site.rota.job_info("nightly").paused


def test_internal_jobs_show_behind_a_toggle(admin: Page) -> None:
    rows = admin.locator("#jobs tbody tr")
    expect(rows.first).to_be_visible()
    shown = rows.count()
    admin.get_by_label("Show rota's own jobs").check()
    expect(admin.locator("#jobs")).to_contain_text("rota's own")
    assert rows.count() > shown


def test_the_timeline_draws_bars_and_a_bar_opens_its_job(admin: Page, site: Site) -> None:
    admin.get_by_role("navigation", name="Pages").get_by_role("link", name="Timeline").click()
    chart = admin.locator("#timeline svg")
    expect(chart).to_be_visible()
    expect(chart.locator("text.job", has_text="nightly")).to_have_count(1)
    bars = chart.get_by_role("link", name=re.compile(r"^nightly: 1 runs"))
    expect(bars.locator("rect.bar")).to_have_count(1)
    admin.get_by_role("button", name="Next 7 days").click()
    bars = chart.get_by_role("link", name=re.compile(r"^nightly: 7 runs"))
    expect(bars.locator("rect.bar")).to_have_count(7)
    bars.locator("rect.bar").first.click()
    expect(admin).to_have_url(re.compile(r"/\?job=nightly$"))
    expect(job_row(admin, "nightly")).to_have_class(re.compile("target"))


def test_the_nodes_page_shows_the_live_node_and_what_it_runs(admin: Page, site: Site) -> None:
    run_id = site.rota.run_now("slow", seconds=120)
    try:
        admin.get_by_role("navigation", name="Pages").get_by_role("link", name="Nodes").click()
        table = admin.locator("#nodes table")
        expect(table).to_contain_text("alive")
        expect(table.get_by_role("link", name=f"slow #{run_id}")).to_be_visible()
    finally:
        site.rota.cancel(run_id)


def test_a_strip_shows_each_jobs_last_runs(admin: Page, site: Site) -> None:
    for _ in range(2):
        site.rota.wait(site.rota.run_now("boom"), retries=False)
    site.rota.wait(site.rota.run_now("echo"))
    expect(job_row(admin, "boom").get_by_role("img")).to_have_attribute(
        "aria-label", re.compile(r"^last \d+ runs: \d+ failed")
    )
    expect(job_row(admin, "boom").locator(".strip .cell.bad")).to_have_count(2)
    expect(job_row(admin, "echo").locator(".strip .cell.ok")).not_to_have_count(0)
