"""Issue 13 on the page: chains as links between jobs, a prerequisite's skip with its reason, the
run a spawned run came from, and the limiters' use, capacity and next refill, live."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import datetime

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, expect

from rota import Rota, RunContext
from tests.web.conftest import ADMIN, Site, job_row, serious_violations, serve, sign_in, wait_for

NO_KEY = "no TMDb key configured"


def tmdb_key_set() -> bool | str:
    """A prerequisite that is never met here."""
    return NO_KEY


def spawn_artwork(ctx: RunContext) -> None:
    """A job added at run time (so it can be removed, with its history) that spawns one run."""
    ctx.spawn("fetch-artwork", show_id=7)


def make_rota(url: str) -> Rota:
    """A chain sync → embeddings → library-build, a job whose prerequisite is not met, one that
    spawns another, and one that takes tokens of a limiter of 5 an hour."""
    rota = Rota(url, timezone="Europe/Berlin", heartbeat=1, lease=3, shutdown_grace=1)
    rota.limiter("tmdb", 5, per="1h")

    @rota.job("sync")
    def sync() -> None:
        """Sync the content."""

    @rota.job("embeddings", schedule="after sync")
    def embeddings() -> None:
        """Compute embeddings."""

    @rota.job("library-build", schedule="after embeddings")
    def library_build() -> None:
        """Build the library."""

    @rota.job("report")
    def report() -> None:
        """Write the report."""

    @rota.job("enrich", requires=[tmdb_key_set])
    def enrich() -> None:
        """Never called: its prerequisite is not met."""

    @rota.job("refresh-shows")
    def refresh_shows(ctx: RunContext) -> None:
        ctx.spawn("fetch-artwork", key="show:42", show_id=42)

    @rota.job("refresh-all")
    def refresh_all(ctx: RunContext) -> None:
        for show in range(7):
            ctx.spawn("fetch-artwork", show_id=show)

    @rota.job("fetch-artwork")
    def fetch_artwork(show_id: int) -> None:
        """Fetch a show's artwork."""

    @rota.job("call-tmdb")
    def call_tmdb(ctx: RunContext, cost: int = 3) -> None:
        with ctx.limit("tmdb", cost=cost):
            ctx.log.info("asked TMDb")

    return rota


@pytest.fixture(scope="module")
def chains(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    with serve(tmp_path_factory.mktemp("chains"), make_rota) as served:
        yield served


@pytest.fixture
def page(chains: Site, new_page: Callable[..., Page]) -> Page:
    return sign_in(new_page(), chains.url, ADMIN)


def test_a_jobs_chain_links_the_jobs_before_and_after_it(page: Page) -> None:
    middle = job_row(page, "embeddings")
    expect(middle.locator(".chain")).to_have_text("after sync · then library-build")
    expect(job_row(page, "sync").locator(".chain")).to_have_text("then embeddings")
    expect(job_row(page, "library-build").locator(".chain")).to_have_text("after embeddings")
    expect(job_row(page, "enrich").locator(".chain")).to_have_count(0)
    next_run = 'td[data-label="Next run"]'  # no fire time: the page says what starts it
    expect(middle.locator(next_run)).to_have_text("when sync succeeds")
    expect(job_row(page, "sync").locator(next_run)).to_have_text("by hand only")
    middle.get_by_role("link", name="library-build").click()
    expect(page).to_have_url(re.compile(r"/\?job=library-build$"))
    expect(job_row(page, "library-build")).to_have_class(re.compile("target"))
    expect(job_row(page, "library-build").locator("th")).to_be_focused()
    job_row(page, "library-build").get_by_role("link", name="embeddings").click()
    expect(page).to_have_url(re.compile(r"/\?job=embeddings$"))
    expect(middle).to_have_class(re.compile("target"))
    expect(job_row(page, "library-build")).not_to_have_class(re.compile("target"))
    page.go_back()  # the address said which row: Back goes to it again
    expect(job_row(page, "library-build")).to_have_class(re.compile("target"))


def test_the_dialog_puts_a_job_after_others_and_refuses_an_unknown_one(
    page: Page, chains: Site
) -> None:
    page.get_by_role("button", name="Schedule and policies of report").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("Type", exact=True).select_option("after")
    dialog.get_by_label("After jobs (comma-separated)").fill("sync, nope")
    dialog.get_by_role("button", name="Save").click()
    expect(dialog.locator("#schedule-error")).to_contain_text("nope")
    expect(dialog).to_be_visible()
    dialog.get_by_label("After jobs (comma-separated)").fill("sync")
    dialog.get_by_role("button", name="Save").click()
    expect(dialog).to_be_hidden()
    try:
        expect(job_row(page, "report").locator(".chain")).to_have_text("after sync")
        expect(job_row(page, "sync").locator(".chain")).to_have_text("then embeddings, report")
        assert chains.rota.job_info("report").upstream == ("sync",)
    finally:
        chains.rota.reset("report")
    expect(job_row(page, "sync").locator(".chain")).to_have_text("then embeddings")


def test_a_prerequisites_skip_shows_its_reason_everywhere(page: Page, chains: Site) -> None:
    run_id = chains.rota.run_now("enrich")
    chains.rota.wait(run_id)
    assert chains.rota.get_run(run_id).note == NO_KEY
    row = job_row(page, "enrich")  # live: no reload
    # A skip is not a run that ran ("Last run" stays "never"), but it says why beneath.
    expect(row.locator(".why")).to_have_text(f"skipped: {NO_KEY}")
    expect(row.locator("td[data-label='Last run']")).to_contain_text("never")
    expect(row.get_by_role("img")).to_have_attribute(
        "aria-label", re.compile(f"skipped; latest skip: {NO_KEY}$")
    )
    expect(row.locator(".strip .cell").last).to_have_attribute(
        "title", f"#{run_id} skipped: {NO_KEY}"
    )
    page.get_by_role("navigation", name="Pages").get_by_role("link", name="Activity").click()
    expect(page.locator(f"#run-{run_id}")).to_contain_text(f"skipped{NO_KEY}")
    page.locator(f"#run-{run_id}").get_by_role("link", name=f"#{run_id}").click()
    expect(page.locator("#run")).to_contain_text(f"Statusskipped {NO_KEY}")


def test_a_spawned_run_links_the_run_that_spawned_it(page: Page, chains: Site) -> None:
    parent = chains.rota.run_now("refresh-shows")
    chains.rota.wait(parent)
    child = wait_for(
        lambda: [r for r in chains.rota.runs("fetch-artwork") if r.parent_run_id == parent],
        "the spawned run",
    )[0].id
    page.goto(chains.url + f"runs/{child}")
    expect(page.locator("#run")).to_contain_text("spawned")
    link = page.locator("#run").get_by_role("link", name=f"refresh-shows #{parent}")
    expect(link).to_be_visible()
    link.click()
    expect(page).to_have_url(re.compile(rf"/runs/{parent}$"))
    expect(page.locator("#run")).not_to_contain_text("Spawned by")
    expect(page.locator("#run .links")).to_have_text(f"1 run: fetch-artwork #{child}")


def test_a_run_lists_the_runs_it_spawned_and_the_history_filters_by_them(
    page: Page, chains: Site
) -> None:
    parent = chains.rota.run_now("refresh-all")
    chains.rota.wait(parent)
    children = sorted(r.id for r in chains.rota.runs(parent_run_id=parent))
    assert len(children) == 7
    page.goto(chains.url + f"runs/{parent}")
    row = page.locator("#run .links")
    expect(row.get_by_role("link")).to_have_text(
        [
            "7 runs",
            *[f"fetch-artwork #{i}" for i in sorted(children, reverse=True)[:5]],
            "and 2 more",
        ]
    )
    count = row.get_by_role("link", name="7 runs")  # "7 runs: …", the colon right after it
    assert count.evaluate("link => getComputedStyle(link).marginRight") == "0px"
    row.get_by_role("link", name="7 runs").click()
    expect(page).to_have_url(re.compile(rf"/activity\?parent_run_id={parent}$"))
    expect(page.locator("#parent-filter")).to_contain_text(f"Spawned by#{parent}")
    expect(page.locator("#page-info")).to_have_text("1 to 7 of 7")
    expect(page.locator("#history tbody tr")).to_have_count(7)
    page.get_by_role("button", name="Clear the spawned-by filter").click()
    expect(page.locator("#parent-filter")).to_have_count(0)
    expect(page.locator("#page-info")).not_to_have_text("1 to 7 of 7")


def test_a_spawned_run_whose_parent_is_gone_says_so(page: Page, chains: Site) -> None:
    chains.rota.add_job("one-off-refresh", "tests.web.test_chains_page:spawn_artwork")
    parent = chains.rota.run_now("one-off-refresh")
    chains.rota.wait(parent)
    child = wait_for(
        lambda: [r for r in chains.rota.runs("fetch-artwork") if r.parent_run_id == parent],
        "the spawned run",
    )[0].id
    chains.rota.remove_job("one-off-refresh")  # and its runs with it
    page.goto(chains.url + f"runs/{child}")
    expect(page.locator("#run")).to_contain_text(f"Spawned by#{parent} (no longer kept)")
    expect(page.locator("#run").get_by_role("link", name=f"#{parent}", exact=True)).to_have_count(0)


def test_a_dependency_run_links_the_upstream_runs_that_triggered_it(
    page: Page, chains: Site
) -> None:
    sync = chains.rota.run_now("sync")
    chains.rota.wait(sync)
    [embeddings] = wait_for(
        lambda: [r for r in chains.rota.runs("embeddings") if r.upstream_runs == {"sync": sync}],
        "the dependency run of embeddings",
    )
    page.goto(chains.url + f"runs/{embeddings.id}")
    expect(page.locator("#run")).to_contain_text("dependency")
    links = page.locator("#run .links")
    expect(links.get_by_role("link")).to_have_text([f"sync #{sync}"])
    links.get_by_role("link", name=f"sync #{sync}").click()
    expect(page).to_have_url(re.compile(rf"/runs/{sync}$"))
    expect(page.locator("#run .links")).to_have_count(0)  # a manual run came after nothing


def test_the_limiters_page_shows_use_capacity_and_next_refill_live(
    page: Page, chains: Site
) -> None:
    page.get_by_role("navigation", name="Pages").get_by_role("link", name="Limiters").click()
    expect(page.get_by_role("heading", name="Limiters", level=1)).to_be_visible()
    row = page.locator("#limiter-tmdb")
    expect(row.locator("td[data-label='Limit']")).to_have_text("5 per hour")
    expect(row.locator("td[data-label='Waits up to']")).to_have_text("1 min")
    [before] = chains.rota.limiters()
    assert before.in_use == 0  # no test before this one takes tokens
    expect(row.locator(".numbers")).to_have_text("0 of 5 (0%)")
    expect(row.locator("td[data-label='Next refill']")).to_have_text("nothing in use")
    chains.rota.wait(chains.rota.run_now("call-tmdb"))
    [after] = chains.rota.limiters()
    assert after.in_use == 3  # one acquisition of 3: the node's first grant is what it asked
    assert after.next_refill is not None
    # Polled, not reloaded: the bar and numbers follow the store.
    expect(row.locator(".numbers")).to_have_text(f"{after.in_use} of 5 ({after.in_use * 20}%)")
    expect(row.locator("meter")).to_have_attribute("value", str(after.in_use))
    expect(row.locator("meter")).to_have_attribute("max", "5")
    refill = row.locator("td[data-label='Next refill'] time")
    expect(refill).to_have_text(re.compile(r"^in (59|60) min( \d+ s)?$"))
    shown = refill.get_attribute("datetime")
    assert shown is not None
    assert datetime.fromisoformat(shown) == after.next_refill
    expect(row).not_to_contain_text("used up")
    # The rest of the hour's capacity: used up, and the page says so.
    chains.rota.wait(chains.rota.run_now("call-tmdb", cost=2))
    expect(row.locator(".numbers")).to_have_text("5 of 5 (100%)")
    expect(row.locator(".marker")).to_have_text("used up")


def test_the_limiters_page_says_when_the_app_declares_none(
    site: Site, new_page: Callable[..., Page]
) -> None:
    page = sign_in(new_page(), site.url, ADMIN)
    page.goto(site.url + "limiters")
    expect(page.locator("#limiters")).to_contain_text("This app declares no rate limiters.")
    expect(page.locator("#limiters table")).to_have_count(0)


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_axe_finds_no_serious_violation_on_the_new_views(
    chains: Site, new_page: Callable[..., Page], scheme: str
) -> None:
    page = sign_in(new_page(color_scheme=scheme), chains.url, ADMIN)
    skipped = chains.rota.run_now("enrich")
    chains.rota.wait(skipped)
    if chains.rota.limiters()[0].in_use == 0:  # 3 more would wait for an hour
        chains.rota.wait(chains.rota.run_now("call-tmdb"))
    parent = chains.rota.run_now("refresh-shows")
    chains.rota.wait(parent)
    spawned = wait_for(lambda: chains.rota.runs("fetch-artwork"), "a spawned run")[0].id
    chains.rota.wait(chains.rota.run_now("sync"))
    chained = wait_for(lambda: chains.rota.runs("embeddings"), "a dependency run")[0].id
    axe = Axe()
    found = {}
    paths = ["", "activity", "limiters", f"runs/{skipped}", f"runs/{spawned}", f"runs/{chained}"]
    for path in [*paths, f"runs/{parent}", f"activity?parent_run_id={parent}"]:
        page.goto(chains.url + path)
        expect(page.locator("[aria-busy=true]")).to_have_count(0)
        found[path or "jobs"] = axe.run(page)
    assert serious_violations(found) == {key: [] for key in found}


def test_on_a_phone_the_new_views_do_not_scroll_sideways(
    chains: Site, new_page: Callable[..., Page]
) -> None:
    page = new_page(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    sign_in(page, chains.url, ADMIN)
    chains.rota.wait(chains.rota.run_now("enrich"))
    expect(job_row(page, "enrich").locator(".why")).to_be_visible()
    for path in ["", "limiters"]:
        page.goto(chains.url + path)
        expect(page.locator("[aria-busy=true]")).to_have_count(0)
        overflow = page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, f"{path or 'jobs'} is {overflow} px wider than the phone"
