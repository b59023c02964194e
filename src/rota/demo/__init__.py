"""The media-server demo: a self-hosted media app's background jobs, doing real, small work on a
generated sample library, with rota's admin service on http://127.0.0.1:8000.

``python -m rota.demo [--fast]`` (or ``rota demo``) calls `run_demo`. The parts: `library` (the
sample library, generated on first start), `sources` (stand-ins for the world outside),
`media`, `taste` and `upkeep` (the jobs' work), `plan` (schedules and policies), `app` (the
Rota), `runner` (the service, the token, the terminal).
"""

from __future__ import annotations

from rota.demo.runner import run_demo

__all__ = ["run_demo"]
