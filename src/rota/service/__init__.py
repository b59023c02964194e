"""rota's service: the REST API, server-sent events, auth, health and metrics, as one ASGI app
(FastAPI). Imported only when asked for (``asgi(rota)``), so ``import rota`` stays light; it
needs the ``service`` extra: ``pip install 'rota[service]'``. See docs/service.md."""

from __future__ import annotations

from rota.service.app import create_app

__all__ = ["create_app"]
