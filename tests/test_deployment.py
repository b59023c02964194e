"""docs/deployment.md tells the truth: it shows the files of deploy/ as they are, they parse
(systemd-analyze, nginx -t and caddy adapt where installed), and the settings they give uvicorn
serve the page's app under /jobs-admin as the page says, behind real nginx and Caddy too."""

from __future__ import annotations

import configparser
import json
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest

from rota.service.session import COOKIE
from tests.service.server import DEADLINE, Server, serving, until

ROOT = Path(__file__).parent.parent
DEPLOY = ROOT / "deploy"
PAGE = (ROOT / "docs" / "deployment.md").read_text(encoding="utf-8")
ADMIN = "deploy-admin-token-0123456789"
PREFIX = "/jobs-admin"


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", PAGE, flags=re.DOTALL)


def exec_start() -> list[str]:
    unit = configparser.ConfigParser(interpolation=None, strict=True)
    unit.optionxform = str  # type: ignore[assignment,method-assign]
    unit.read_string((DEPLOY / "myapp.service").read_text())
    return shlex.split(unit["Service"]["ExecStart"])


def uvicorn_settings(args: list[str]) -> dict[str, Any]:
    """What `uvicorn APP --option value ...` sets, for the options these files use."""
    settings: dict[str, Any] = {}
    options = iter(args)
    for option in options:
        if option == "--root-path":
            settings["root_path"] = next(options)
        elif option == "--forwarded-allow-ips":
            settings["forwarded_allow_ips"] = next(options)
        elif option == "--proxy-headers":
            settings["proxy_headers"] = True
        elif option in ("--host", "--port"):
            next(options)  # the test's server binds a free port of its own
        else:
            raise AssertionError(f"an option this test does not know: {option}")
    return settings


@pytest.mark.parametrize(
    ("name", "language"),
    [
        ("myapp.service", "ini"),
        ("rota.env", "sh"),
        ("Dockerfile", "dockerfile"),
        ("nginx.conf", "nginx"),
        ("Caddyfile", "caddy"),
    ],
)
def test_the_page_shows_each_file_as_it_is(name: str, language: str) -> None:
    assert (DEPLOY / name).read_text() in blocks(language)


def test_the_unit_file_is_complete() -> None:
    unit = configparser.ConfigParser(interpolation=None, strict=True)
    unit.optionxform = str  # type: ignore[assignment,method-assign]
    text = (DEPLOY / "myapp.service").read_text()
    unit.read_string(text)
    assert set(unit.sections()) == {"Unit", "Service", "Install"}
    service = unit["Service"]
    assert service["EnvironmentFile"] == "/etc/myapp/rota.env"
    assert service["Restart"] == "on-failure"
    assert int(service["TimeoutStopSec"]) >= 10
    args = exec_start()
    assert args[0].endswith("/uvicorn")
    assert args[1] == "myapp.service:app"
    assert uvicorn_settings(args[2:])["root_path"] == PREFIX
    # systemd allows comments on lines of their own only: a '#' after a value is part of it.
    for line in text.splitlines():
        assert line.startswith("#") or "#" not in line, line


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="needs systemd-analyze")
def test_systemd_accepts_the_unit_file(tmp_path: Path) -> None:
    uvicorn = Path(sys.executable).with_name("uvicorn")
    text = (DEPLOY / "myapp.service").read_text()
    # Its ExecStart must name a file that exists here; nothing else changes.
    unit = tmp_path / "myapp.service"
    unit.write_text(text.replace("/srv/myapp/.venv/bin/uvicorn", str(uvicorn)))
    done = subprocess.run(
        ["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert "Unknown" not in done.stderr, done.stderr
    assert "ignoring" not in done.stderr, done.stderr


def test_the_dockerfile_runs_what_the_unit_runs() -> None:
    instructions = [
        line.split()[0]
        for line in (DEPLOY / "Dockerfile").read_text().split("\n")
        if line and not line.startswith((" ", "#"))
    ]
    known = {"FROM", "ENV", "RUN", "WORKDIR", "COPY", "USER", "VOLUME", "EXPOSE", "STOPSIGNAL"}
    known |= {"HEALTHCHECK", "CMD"}
    assert set(instructions) <= known, instructions
    assert instructions[0] == "FROM"
    assert instructions[-1] == "CMD"
    text = (DEPLOY / "Dockerfile").read_text()
    command = json.loads(text.split("\nCMD ", 1)[1])  # the exec form: a JSON list
    assert command[:2] == ["uvicorn", exec_start()[1]]
    uvicorn_settings(command[2:])
    healthcheck = text.split("\nHEALTHCHECK ", 1)[1].split("CMD ", 1)[1].split("\n")[0]
    assert "/healthz" in json.loads(healthcheck)[2]
    assert "ROTA_DATABASE_URL=sqlite:////data/rota.db" in text
    assert "VOLUME /data" in text


@pytest.fixture
def app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """The page's two modules, written where Python finds them, imported as the unit does."""
    package = tmp_path / "myapp"
    package.mkdir()
    (package / "__init__.py").write_text("")
    for code in blocks("python"):
        first = code.split("\n", 1)[0]
        if first.startswith("# myapp/"):
            (tmp_path / first.removeprefix("# ")).write_text(code)
    assert sorted(p.name for p in package.iterdir()) == ["__init__.py", "jobs.py", "service.py"]
    monkeypatch.setenv("ROTA_DATABASE_URL", f"sqlite:///{tmp_path}/rota.db")
    monkeypatch.setenv("ROTA_ADMIN_TOKEN", ADMIN)
    monkeypatch.delenv("ROTA_VIEWER_TOKEN", raising=False)
    monkeypatch.syspath_prepend(str(tmp_path))
    from myapp.service import app as service  # type: ignore[import-not-found]

    try:
        yield service
    finally:
        import myapp.jobs  # type: ignore[import-not-found]

        myapp.jobs.rota.close()
        for name in ("myapp.service", "myapp.jobs", "myapp"):
            sys.modules.pop(name, None)


def check_the_service(http: httpx2.Client, path: str, secure: bool) -> None:
    """What the page promises through the proxy: health, login with the cookie's Path the
    sub-path, the spec's servers, the jobs, and the event stream."""
    assert http.get(f"{path}/healthz").json() == {"status": "ok", "reason": None}
    login = http.post(f"{path}/api/session", json={"token": ADMIN})
    assert login.status_code == 200, login.text
    cookie = login.headers["set-cookie"]
    assert f"; Path={PREFIX};" in cookie + ";"
    assert ("; Secure" in cookie) is secure
    headers = {"Cookie": f"{COOKIE}={login.cookies[COOKIE]}"}
    spec = http.get(f"{path}/api/openapi.json").json()
    assert spec["servers"] == [{"url": PREFIX}]
    jobs = http.get(f"{path}/api/jobs", headers=headers).json()
    assert [job["name"] for job in jobs] == ["library-scan"]
    with http.stream("GET", f"{path}/api/events?after=0", headers=headers) as stream:
        assert stream.status_code == 200
        lines = stream.iter_lines()
        assert until(lambda: next(lines).startswith("id:"), "an event through the proxy")


def test_the_units_uvicorn_settings_serve_the_app_under_the_sub_path(app: Any) -> None:
    settings = uvicorn_settings(exec_start()[2:])
    with (
        serving(app, **settings) as server,
        httpx2.Client(base_url=server.url, timeout=DEADLINE) as http,
    ):
        # As the proxy sends it: /jobs-admin stripped, the browser's scheme and address added.
        http.headers.update({"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9"})
        check_the_service(http, "", secure=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def proxied(server: Server, text: str) -> str:
    return text.replace("127.0.0.1:8000", f"127.0.0.1:{server.port}")


def answering(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture
def proxy_process() -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for process in started:
        process.terminate()
        process.wait(timeout=DEADLINE)


@pytest.mark.skipif(shutil.which("nginx") is None, reason="needs nginx")
def test_behind_nginx(
    app: Any, tmp_path: Path, proxy_process: list[subprocess.Popen[bytes]]
) -> None:
    settings = uvicorn_settings(exec_start()[2:])
    port = free_port()
    with serving(app, **settings) as server:
        snippet = proxied(server, (DEPLOY / "nginx.conf").read_text())
        temp = " ".join(
            f"{kind}_temp_path {tmp_path}/{kind};"
            for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        )
        config = tmp_path / "nginx.conf"
        config.write_text(
            f"daemon off; pid {tmp_path}/nginx.pid; error_log {tmp_path}/error.log;\n"
            f"events {{}}\nhttp {{ access_log off; {temp}\n"
            f"server {{ listen 127.0.0.1:{port};\n{snippet}\n}} }}\n"
        )
        checked = subprocess.run(
            ["nginx", "-t", "-c", str(config), "-p", str(tmp_path)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert checked.returncode == 0, checked.stderr
        proxy_process.append(subprocess.Popen(["nginx", "-c", str(config), "-p", str(tmp_path)]))
        until(lambda: answering(port), "nginx to listen")
        with httpx2.Client(base_url=f"http://127.0.0.1:{port}", timeout=DEADLINE) as http:
            moved = http.get(PREFIX)
            assert moved.status_code == 301
            assert moved.headers["location"].endswith(f"{PREFIX}/")
            check_the_service(http, PREFIX, secure=False)  # plain http to nginx here


@pytest.mark.skipif(shutil.which("caddy") is None, reason="needs caddy")
def test_behind_caddy(
    app: Any, tmp_path: Path, proxy_process: list[subprocess.Popen[bytes]]
) -> None:
    environment = {**os.environ, "XDG_DATA_HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path)}
    adapted = subprocess.run(
        ["caddy", "adapt", "--config", str(DEPLOY / "Caddyfile"), "--adapter", "caddyfile"],
        capture_output=True,
        text=True,
        timeout=60,
        env=environment,
    )
    assert adapted.returncode == 0, adapted.stderr
    assert '"strip_path_prefix":"/jobs-admin"' in adapted.stdout.replace(" ", "")
    settings = uvicorn_settings(exec_start()[2:])
    port = free_port()
    with serving(app, **settings) as server:
        # The same site block, on plain http at a free port, without Caddy's admin endpoint.
        site = proxied(server, (DEPLOY / "Caddyfile").read_text())
        site = site.replace("example.org {", f"http://127.0.0.1:{port} {{")
        config = tmp_path / "Caddyfile"
        config.write_text("{\n\tadmin off\n}\n\n" + site)
        proxy_process.append(
            subprocess.Popen(
                ["caddy", "run", "--config", str(config), "--adapter", "caddyfile"],
                env=environment,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
        until(lambda: answering(port), "caddy to listen")
        with httpx2.Client(base_url=f"http://127.0.0.1:{port}", timeout=DEADLINE) as http:
            assert http.get(PREFIX).status_code in (301, 302, 308)
            check_the_service(http, PREFIX, secure=False)
