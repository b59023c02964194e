"""The admin page: HTML pages rendered from templates, with hand-written JavaScript and CSS
shipped in the package, fed by the REST API and live over its event stream (docs/page.md).

`install(app)` adds the pages and their static files to the service's app; every URL in them is
relative, so the page works wherever the app is mounted (``app.mount("/jobs-admin", ...)``) and
behind a reverse proxy that strips a prefix.
"""

from __future__ import annotations

from rota.web.pages import install, router

__all__ = ["install", "router"]
