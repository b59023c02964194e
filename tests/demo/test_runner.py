"""run_demo's edges: the admin token file, and the errors that stop it before it serves."""

from __future__ import annotations

import json
import os
import re
import socket
import stat
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from rota.demo import run_demo
from rota.demo.app import build_demo
from rota.demo.plan import PLAN
from rota.demo.runner import _banner, admin_token
from rota.demo.tmdb_client import KEY_FILE
from rota.engine.prerequisites import check_path
from rota.testing import FakeClock
from tests.demo.conftest import TINY


def test_the_admin_token_is_made_once_and_kept_private(tmp_path: Path) -> None:
    path = tmp_path / "admin-token"
    token = admin_token(path)
    assert len(token) >= 16
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text().strip() == token
    assert admin_token(path) == token  # printed again at every start
    path.chmod(0o644)
    assert admin_token(path) == token
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_token_file_too_short_to_be_a_token_is_replaced(tmp_path: Path) -> None:
    path = tmp_path / "admin-token"
    path.write_text("short\n")
    token = admin_token(path)
    assert token != "short"
    assert len(token) >= 16


def test_a_taken_port_is_said_plainly(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(SystemExit) as exited:
            run_demo(port=port, data_dir=tmp_path / "demo")
    assert exited.value.code == 1
    error = capsys.readouterr().err
    assert f"rota demo: port {port} on 127.0.0.1 is taken" in error
    assert "--port" in error
    assert not (tmp_path / "demo").exists()  # nothing made before the port was had


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"port": 70000}, "port 70000 is not a port number 0-65535"),
        ({"port": -1}, "port -1 is not a port number 0-65535"),
        ({"host": "no-such-host.invalid"}, "host 'no-such-host.invalid' is not an address"),
    ],
)
def test_bad_options_are_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], options: dict[str, object], message: str
) -> None:
    with pytest.raises(SystemExit) as exited:
        run_demo(data_dir=tmp_path, **options)  # type: ignore[arg-type]
    assert exited.value.code == 1
    assert message in capsys.readouterr().err


def test_a_data_dir_that_is_a_file_is_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    data.write_text("")
    with pytest.raises(SystemExit) as exited:
        run_demo(port=0, data_dir=data)
    assert exited.value.code == 1
    assert f"cannot use the data directory {data}" in capsys.readouterr().err


def test_without_the_service_extra_the_demo_says_what_to_install(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "uvicorn", None)  # as if it were not installed
    with pytest.raises(SystemExit) as exited:
        run_demo(port=0, data_dir=tmp_path)
    assert exited.value.code == 1
    error = capsys.readouterr().err
    assert "needs the service extra" in error
    assert "pip install 'rota[service]'" in error


def test_the_readmes_demo_command_and_options_exist() -> None:
    root = Path(__file__).parent.parent.parent
    readme = " ".join((root / "README.md").read_text(encoding="utf-8").split())
    script = (root / "scripts" / "demo").read_text(encoding="utf-8")
    assert "./scripts/demo --fast" in readme
    assert f"media server's {len(PLAN)} background jobs" in readme
    assert "pip install --quiet --disable-pip-version-check -e '.[service]'" in script
    assert script.rstrip().endswith('exec .venv/bin/rota demo "$@"')
    result = subprocess.run(
        [sys.executable, "-m", "rota.cli", "demo", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(root / "src")},
        check=True,
    )
    for option in ("--fast", "--host", "--port", "--data-dir"):
        assert option in result.stdout
        assert f"`{option}`" in readme or f"demo {option}" in readme


def test_what_fast_does_is_said_the_same_everywhere_and_is_true(
    tmp_path: Path, clock: FakeClock, capsys: pytest.CaptureFixture[str]
) -> None:
    root = Path(__file__).parent.parent.parent
    said = "within a minute", "10-60 s"
    readme = " ".join((root / "README.md").read_text(encoding="utf-8").split())
    script = " ".join(
        (root / "scripts" / "demo").read_text(encoding="utf-8").replace("#", "").split()
    )
    demo = build_demo(tmp_path, fast=True, clock=clock, pace=0, sizes=TINY)
    _banner(demo, "127.0.0.1", 8000, "token", fast=True)
    banner = capsys.readouterr().out
    demo.close()
    for text in (readme, script, banner):
        assert all(words in text for words in said), text[:200]
    jobs = [plan for plan in PLAN if plan.timed]
    assert (min(p.fast_every for p in jobs), max(p.fast_every for p in jobs)) == (10, 60)
    assert all(p.fast_delay < 60 for p in jobs)


def test_a_store_that_is_not_a_database_is_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "rota.db").write_bytes(b"not a database, not at all: " * 10)
    with pytest.raises(SystemExit) as exited:
        run_demo(port=0, data_dir=tmp_path)
    assert exited.value.code == 1
    error = capsys.readouterr().err
    assert f"rota demo: cannot use the data directory {tmp_path}: store" in error
    assert "file is not a database" in error


def test_the_demo_jobs_the_docs_name_exist() -> None:
    root = Path(__file__).parent.parent.parent
    pages = [root / "README.md", *sorted((root / "docs").glob("*.md"))]
    text = " ".join(" ".join(p.read_text(encoding="utf-8").split()) for p in pages)
    named = set(re.findall(r"the demo's `([a-z-]+)` job", text))
    assert "database-backup" in named  # deployment.md's backups
    assert named <= {plan.name for plan in PLAN}


def test_the_docs_run_examples_work_against_the_demo(tmp_path: Path) -> None:
    """cli.md's `rota jobs run` lines and service.md's POST .../runs bodies, on the demo's jobs
    as they stand today (real clock: a documented time that has passed fails here first)."""
    docs = Path(__file__).parent.parent.parent / "docs"
    cli = (docs / "cli.md").read_text(encoding="utf-8")
    service = (docs / "service.md").read_text(encoding="utf-8").replace("\\\n", "")
    asks: list[tuple[str, dict[str, Any], str | None]] = []
    for line in re.findall(r"^rota jobs run (.+)$", cli, flags=re.MULTILINE):
        job, *words = line.split()
        at = words[words.index("--at") + 1] if "--at" in words else None
        pairs = [w.split("=", 1) for w in words if "=" in w and not w.startswith("-")]
        asks.append((job, {k: json.loads(v) for k, v in pairs}, at))
    for job, body in re.findall(r"/api/jobs/([a-z-]+)/runs.*?-d '(\{.*?\})'", service):
        sent = json.loads(body)
        asks.append((job, sent.get("args", {}), sent.get("at")))
    assert {"full": True} in [args for _, args, _ in asks]
    assert [at for _, _, at in asks if at]
    demo = build_demo(tmp_path, pace=0, sizes=TINY)
    try:
        for job, args, at in asks:
            if at is None:
                demo.rota.run_now(job, **args)
            else:
                demo.rota.run_later(job, datetime.fromisoformat(at), **args)
    finally:
        demo.close()


def test_what_the_readme_says_of_issue_13s_features_in_the_demo_is_what_it_does(
    tmp_path: Path, clock: FakeClock
) -> None:
    root = Path(__file__).parent.parent.parent
    readme = " ".join((root / "README.md").read_text(encoding="utf-8").split())
    demo = build_demo(tmp_path, clock=clock, pace=0, sizes=TINY)
    try:
        jobs = {job.name: job for job in demo.rota.jobs()}
        (tmdb,) = demo.rota.limiters()
        enrich = demo.rota.job_info("enrich-metadata").settings
    finally:
        demo.close()
    assert 'rota.limiter("tmdb", 40, per="10s")' in readme
    assert (tmdb.name, tmdb.capacity, tmdb.period.total_seconds()) == ("tmdb", 40, 10)
    assert "with TMDb's limit of 40 requests per 10 s" in readme
    assert (demo.tmdb.capacity, demo.tmdb.period.total_seconds()) == (40, 10)
    assert f"`.demo/{KEY_FILE}`" in readme
    assert [check_path(check) for check in enrich.requires] == [
        "rota.demo.tmdb_client:Tmdb.key_is_set"
    ]
    assert jobs["fetch-artwork"].settings.requires == enrich.requires
    assert "recommendations run after embeddings succeed" in readme
    assert jobs["recommendations"].schedule.text == "after embeddings"
    assert jobs["library-build"].schedule.text == "after recommendations"
    assert "spawns a `fetch-artwork` run per title" in readme
    assert "fetch two at a time" in readme
    assert jobs["fetch-artwork"].settings.max_concurrent == 2
