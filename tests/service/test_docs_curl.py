"""The curl examples of docs/guide.md and docs/service.md's browser login run as written against
a real server: each command must succeed (curl --fail: a 2xx answer)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from rota import Rota, asgi
from tests.service.conftest import ADMIN
from tests.service.server import Server, serving

DOCS = Path(__file__).parent.parent.parent / "docs"
# Every curl fails on an HTTP error and gives up rather than hang.
PRELUDE = 'curl() { command curl --fail --silent --show-error --max-time 10 "$@"; }\n'

pytestmark = pytest.mark.skipif(shutil.which("curl") is None, reason="needs curl")


def curl_blocks(page: str) -> list[str]:
    text = (DOCS / page).read_text(encoding="utf-8")
    return [b for b in re.findall(r"```sh\n(.*?)```", text, flags=re.DOTALL) if "curl " in b]


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    rota = Rota(f"sqlite:///{tmp_path}/app.db", timezone="UTC")

    @rota.job("library-scan")
    def library_scan() -> None:
        """Scan."""

    with serving(asgi(rota, admin_token=ADMIN, token_file=tmp_path / "t")) as running:
        yield running
    rota.close()


def run(script: str, server: Server, cwd: Path) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "URL": server.url, "TOKEN": ADMIN}
    return subprocess.run(
        ["bash", "-euo", "pipefail", "-c", PRELUDE + script],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=cwd,
        env=environment,
    )


def test_the_guides_api_commands_run(server: Server, tmp_path: Path) -> None:
    [block] = [b for b in curl_blocks("guide.md") if "/api/jobs" in b]
    lines = block.replace("\\\n", "").splitlines()
    assert lines[0].startswith("export URL=")
    streams = [line for line in lines if "curl -N" in line]  # never ends: not run here
    assert len(streams) == 1
    script = "\n".join(line for line in lines[1:] if line not in streams)
    assert script.count("curl ") == 4
    done = run(script, server, tmp_path)
    assert done.returncode == 0, done.stderr
    assert '"library-scan"' in done.stdout
    assert '"daily 03:30"' in done.stdout


def test_the_browser_login_commands_run(server: Server, tmp_path: Path) -> None:
    [block] = [b for b in curl_blocks("service.md") if "jar.txt" in b]
    done = run(block, server, tmp_path)
    assert done.returncode == 0, done.stderr
    assert '"role":"admin"' in done.stdout
    assert '"status":"queued"' in done.stdout  # the write with the CSRF token went through
    assert "rota_session" not in (tmp_path / "jar.txt").read_text()  # logged out: cleared
