"""The page routes: one HTML document per page, from one layout. The documents hold no data
(the JavaScript reads it from the API with the caller's session), so they are served to anyone;
the API decides what each caller may see and do."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, FastAPI
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, FileSystemLoader, select_autoescape

from rota.engine.isolation import Isolation
from rota.engine.policies import CatchUp, Overlap
from rota.store.records import Reason, RunStatus

__all__ = ["install", "router"]

HERE = Path(__file__).parent
STATIC = HERE / "static"
router = APIRouter(include_in_schema=False)
MAX_ID = 2**63 - 1  # the largest run id the store holds (the API checks the same)
_templates = Environment(
    loader=FileSystemLoader(HERE / "templates"),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)
# Every choice the page offers comes from the code's own enums, so the two cannot drift.
_CHOICES = {
    "overlaps": [o.value for o in Overlap],
    "catch_ups": [c.value for c in CatchUp],
    "isolations": [i.value for i in Isolation],
    "statuses": [s.value for s in RunStatus],
    "reasons": [r.value for r in Reason],
}
_NAV = [
    ("", "Jobs", "jobs"),
    ("activity", "Activity", "activity"),
    ("timeline", "Timeline", "timeline"),
    ("limiters", "Limiters", "limiters"),
    ("nodes", "Nodes", "nodes"),
]


def _render(page: str, title: str, depth: int, **context: object) -> HTMLResponse:
    """The page `page` at `depth` path segments below the app's root: its links and requests
    are relative to ``base`` (``./`` or ``../``), the app's root wherever it is mounted."""
    template = _templates.get_template(f"{page}.html")
    html = template.render(
        page=page,
        title=title,
        base="./" if depth == 0 else "../" * depth,
        nav=_NAV,
        **_CHOICES,
        **context,
    )
    return HTMLResponse(
        html,
        headers={
            # Only this origin's scripts, styles, images and API: nothing from elsewhere.
            "Content-Security-Policy": (
                "default-src 'self'; img-src 'self' data:; style-src 'self'; "
                "script-src 'self'; connect-src 'self'; frame-ancestors 'self'; "
                "base-uri 'self'; form-action 'self'"
            ),
            "Cache-Control": "no-store",
            "Referrer-Policy": "same-origin",
            "X-Content-Type-Options": "nosniff",
        },
    )


@router.get("/", response_class=HTMLResponse)
def jobs_page() -> HTMLResponse:
    return _render("jobs", "Jobs", 0)


@router.get("/activity", response_class=HTMLResponse)
def activity_page() -> HTMLResponse:
    return _render("activity", "Activity", 0)


@router.get("/runs/{run_id}", response_class=HTMLResponse)
def run_page(run_id: Annotated[int, PathParam(ge=1, le=MAX_ID)]) -> HTMLResponse:
    return _render("run", f"Run {run_id}", 1, run_id=run_id)


@router.get("/timeline", response_class=HTMLResponse)
def timeline_page() -> HTMLResponse:
    return _render("timeline", "Timeline", 0)


@router.get("/limiters", response_class=HTMLResponse)
def limiters_page() -> HTMLResponse:
    return _render("limiters", "Limiters", 0)


@router.get("/nodes", response_class=HTMLResponse)
def nodes_page() -> HTMLResponse:
    return _render("nodes", "Nodes", 0)


@router.get("/login", response_class=HTMLResponse)
def login_page() -> HTMLResponse:
    return _render("login", "Sign in", 0)


def install(app: FastAPI) -> None:
    """Add the pages and their static files to `app` (the service's app)."""
    app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC), name="rota-static")
