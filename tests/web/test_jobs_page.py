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
