"""docs/embedding.md's examples, run inside each framework as the guide says to use them."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).parent.parent


@pytest.fixture
def example(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    """Import an example afresh, on a database of the test's own."""
    monkeypatch.setenv("ROTA_EXAMPLE_DATABASE", f"sqlite:///{tmp_path}/example.db")
    imported: list[str] = []

    def load(name: str) -> ModuleType:
        module_name = f"examples.embedding.{name}"
        sys.modules.pop(module_name, None)
        imported.append(module_name)
        return importlib.import_module(module_name)

    yield load  # type: ignore[misc]
    for name in imported:
        module = sys.modules.pop(name, None)
        rota = getattr(module, "rota", None)
        if rota is not None:
            rota.stop(grace=0)


def test_the_plain_script_runs_a_job_and_stops(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "examples.embedding.plain_script"],
        cwd=ROOT,
        env={**os.environ, "ROTA_EXAMPLE_DATABASE": f"sqlite:///{tmp_path}/script.db"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("succeeded ")
    assert lines[0].endswith("scanned 3 items of films")
    assert lines[1].startswith("next: ")
    assert lines[1].endswith("+00:00")


def test_fastapi(example) -> None:  # type: ignore[no-untyped-def]
    from fastapi.testclient import TestClient

    module = example("fastapi_app")
    with TestClient(module.app) as client:  # runs the lifespan: the engine on the app's loop
        assert client.post("/jobs/refresh-metadata/run?limit=5").json()["status"] == "succeeded"
        assert [job["name"] for job in client.get("/jobs").json()] == ["refresh-metadata"]
        assert client.post("/jobs/nope/run").status_code == 404
    assert module.rota.engine is None  # stopped with the app


def test_flask(example) -> None:  # type: ignore[no-untyped-def]
    module = example("flask_app")
    client = module.create_app().test_client()
    assert client.post("/jobs/sync-users/run").get_json()["status"] == "succeeded"
    assert client.get("/jobs").get_json() == [{"name": "sync-users", "paused": False}]
    assert client.post("/jobs/nope/run").status_code == 404


def test_django(example) -> None:  # type: ignore[no-untyped-def]
    from django.test import Client

    module = example("django_app")
    module.rota.start()
    client = Client()
    assert client.post("/jobs/recommendations/run").json()["status"] == "succeeded"
    assert [job["name"] for job in client.get("/jobs").json()] == ["recommendations"]
