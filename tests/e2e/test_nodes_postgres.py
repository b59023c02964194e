"""Several rota nodes, each a process of its own, on one PostgreSQL database (issue 5).

Each node runs tests/e2e/node_app.py with the same plan: many one-shot jobs whose fire times
are spread over a few seconds, and a few interval jobs. Every run inserts a row into `effects`,
a table of the test's own in the same schema, so the test sees what the jobs did as well as what
rota recorded. Half-way, one node is killed (SIGKILL) or the server restarted; afterwards every
fire time must have run, no run may have been created twice, and every job's effect must have
happened exactly once, except where a run was recorded interrupted and retried (the node may
have done the effect before it died). Two more tests make bugs these found happen on purpose:
a claim lost to another node, and a fire time while another node runs the job.

A failing test shows each node's warnings and errors and, for a node still running, the stacks
of its threads (node_app.py dumps them on SIGUSR1); the full logs stay in the test's tmp_path.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row
from sqlalchemy.engine import make_url

from rota.store.operations import Claim, Enqueue, NewRun
from rota.store.records import NodeRecord, Reason
from rota.store.sql import SqlStore
from tests.postgres import create_schema, drop_schema, in_schema, server_url

APP = Path(__file__).with_name("node_app.py")
ROOT = Path(__file__).parents[2]
RETRY_ATTEMPTS = 3  # node_app.py's Retry(3, backoff="1s")
# Runs take 10 ms: one running this long, or waiting this long for a slot, was forgotten. (On
# two busy cores three nodes work through 2,000 runs at a few dozen a second: a run may well
# wait half a minute for its turn.)
LOST_RUNNING, LOST_QUEUED = timedelta(seconds=10), timedelta(seconds=60)
OURS = ("schedule", "retry")  # the reasons of runs here: nothing is late by the grace (60 s)
Row = dict[str, Any]


# -- the database ------------------------------------------------------------------------------


def conninfo(url: str) -> str:
    """A store URL spelled for psycopg (libpq), its schema option kept."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def query(url: str, sql: str, *params: Any) -> list[Row]:
    """The rows of `sql`, on a connection of its own: one lost to a restart is no matter."""
    with psycopg.connect(conninfo(url), autocommit=True, connect_timeout=5) as connection:
        cursor = connection.cursor(row_factory=dict_row).execute(sql, params or None)
        return cursor.fetchall() if cursor.description is not None else []


def scalar(url: str, sql: str, *params: Any) -> Any:
    """The one value `sql` selects."""
    return next(iter(query(url, sql, *params)[0].values()))


@pytest.fixture
def schema_url() -> Iterator[str]:
    """A fresh schema holding the test's `effects` table (the first node to open it makes
    rota's tables); dropped at the end, whatever happened."""
    server = server_url()
    name = create_schema(server)
    url = in_schema(server, name)
    try:
        query(
            url,
            "CREATE TABLE effects (job text NOT NULL, fire_time timestamptz,"
            " run_id bigint NOT NULL, attempt integer NOT NULL, pid integer NOT NULL)",
        )
        yield url
    finally:
        drop_schema(server, name)


# -- the nodes ---------------------------------------------------------------------------------


@dataclass
class Plan:
    """What every node registers and how it runs (node_app.py reads it as JSON)."""

    shots: list[tuple[str, datetime]]
    ticks: list[tuple[str, float]]
    heartbeat: float = 0.5
    # Longer than a node may take to start or stall under load (two cores shared by three
    # nodes, the server and the test): a dead node is found by its pid within a heartbeat.
    lease: float = 10.0
    workers: int = 10
    sleep: float = 0.01  # each run's, so that runs are in flight when a node dies
    sleeps: dict[str, float] = field(default_factory=dict)  # the runs of these jobs, instead
    bridges: list[str] = field(default_factory=list)  # jobs that run until the database is down
    lead: float = 0.0  # how long after the nodes are all up the first shot fires

    @classmethod
    def spread(
        cls, shots: int, over: float, lead: float, ticks: list[float], **settings: Any
    ) -> Plan:
        """`shots` one-shot jobs, their fire times spread evenly over `over` seconds from
        `lead` seconds from now (time for the nodes to start), and interval jobs."""
        start = datetime.now(UTC) + timedelta(seconds=lead)
        return cls(
            [(f"shot-{i}", start + timedelta(seconds=over * i / shots)) for i in range(shots)],
            [(f"tick-{k}", seconds) for k, seconds in enumerate(ticks)],
            lead=lead,
            **settings,
        )

    def write(self, path: Path) -> Path:
        """Write the plan with its shots moved to begin `lead` seconds from now (nodes wait
        for the file: see `Nodes.start`)."""
        if self.shots:
            shift = datetime.now(UTC) + timedelta(seconds=self.lead) - self.shots[0][1]
            self.shots = [(name, at + shift) for name, at in self.shots]
        fields = asdict(self)
        fields["shots"] = [(name, at.isoformat()) for name, at in self.shots]
        written = path.with_suffix(".tmp")
        written.write_text(json.dumps(fields))
        written.replace(path)  # whole, at once: a node never reads half of it
        return path


@dataclass
class Node:
    """A node process and its log."""

    process: subprocess.Popen[bytes]
    log: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def started(self) -> bool:
        """Whether its engine runs (node_app.py says so once `start` returned)."""
        return "node_app: started" in self.text()

    def ready(self) -> bool:
        """Whether it waits for its plan (its imports done)."""
        return "node_app: ready" in self.text()


class Nodes:
    """The node processes of one test, logging into its tmp_path; `close` kills what is left."""

    def __init__(self, url: str, directory: Path) -> None:
        self.url = url
        self.directory = directory
        self.started: list[Node] = []

    def start(self, plan: Plan, path: Path, count: int = 1) -> list[Node]:
        """Start `count` nodes, and once all are ready write `plan` to `path` for them: on a
        busy machine their imports alone may take longer than the plan's lead."""
        for _ in range(count):
            log = self.directory / f"node-{len(self.started)}.log"
            with log.open("wb") as sink:
                process = subprocess.Popen(
                    [sys.executable, str(APP), self.url, str(path)],
                    cwd=ROOT,
                    stdout=sink,
                    stderr=subprocess.STDOUT,
                )
            self.started.append(Node(process, log))
        new = self.started[-count:]
        deadline = time.monotonic() + 60
        while not all(node.ready() for node in new):
            if time.monotonic() > deadline or any(n.process.poll() is not None for n in new):
                raise AssertionError(f"nodes did not get ready\n{self.logs()}")
            time.sleep(0.05)
        plan.write(path)
        return new

    def kill(self, node: Node) -> None:
        node.process.send_signal(signal.SIGKILL)
        node.process.wait(timeout=10)

    def stop(self, node: Node) -> int:
        """SIGTERM, and wait for a clean exit (it lets its running runs finish); the exit
        code."""
        node.process.send_signal(signal.SIGTERM)
        try:
            return node.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"node {node.pid} did not stop\n{self.logs()}") from None

    def close(self) -> None:
        for node in self.started:
            if node.process.poll() is None:
                node.process.kill()
                node.process.wait(timeout=10)

    def dump_stacks(self) -> None:
        """Have every live node write its threads' stacks into its log (for a failure)."""
        live = [node for node in self.started if node.process.poll() is None]
        for node in live:
            node.process.send_signal(signal.SIGUSR1)
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            if all("most recent call first" in node.text() for node in live):
                return
            time.sleep(0.05)

    def logs(self, lines: int = 40) -> str:
        """Every node's log lines that say something (warnings and errors, without their
        tracebacks), and the last lines (a stack dump, say), for an assertion message."""
        parts = []
        for node in self.started:
            text = node.text().splitlines()
            said = [line for line in text if " WARNING " in line or " ERROR " in line]
            state = node.process.poll()
            parts.append(
                f"--- node {node.pid} ({'running' if state is None else f'exit {state}'}), "
                f"{node.log}: {len(said)} warnings and errors (the first {lines}):"
            )
            parts.extend(said[:lines])
            parts.append(f"--- its last {lines} lines:")
            parts.extend(text[-lines:])
        return "\n".join(parts)


@pytest.fixture
def nodes(schema_url: str, tmp_path: Path) -> Iterator[Nodes]:
    """Node processes on `schema_url`; killed, if still running, before the schema is dropped."""
    started = Nodes(schema_url, tmp_path)
    try:
        yield started
    finally:
        started.close()


class Stuck(AssertionError):
    """Waiting is hopeless: a run has been queued or running far longer than any run here
    takes (see `stuck_runs`)."""


def wait_for(
    reached: Callable[[], bool],
    timeout: float,
    what: str,
    nodes: Nodes,
    url: str,
    hopeless: Callable[[], str | None] = lambda: None,
) -> None:
    """Poll until `reached()`, or until `hopeless()` says why it never will; a database that
    cannot be reached for the moment (a restart) only means not yet. Fails with the runs'
    state and the nodes' logs and stacks."""
    deadline = time.monotonic() + timeout
    why, failure = f"not reached within {timeout} s", AssertionError
    while True:
        try:
            if reached():
                return
            if (reason := hopeless()) is not None:
                why, failure = reason, Stuck
                break
        except psycopg.OperationalError:
            pass
        if time.monotonic() > deadline:
            break
        time.sleep(0.05)
    try:
        state = str(summary(url))
    except psycopg.Error as error:
        state = f"(unreadable: {error})"
    nodes.dump_stacks()
    raise failure(f"{what}: {why}; runs: {state}\n{nodes.logs()}")


def stuck_runs(url: str, status: str, since: datetime) -> str | None:
    """Why waiting is hopeless if some run has been `status` since before `since` (the
    database's clock), when no run here takes more than a fraction of a second."""
    rows = query(
        url,
        "SELECT id, job, node, queued_at, started_at FROM runs"
        " WHERE status = %s AND coalesce(started_at, queued_at) < %s ORDER BY id LIMIT 5",
        status,
        since,
    )
    if not rows:
        return None
    return f"runs {status} since before {since} (the first five): {rows}"


def database_now(url: str) -> datetime:
    """The server's clock, which rota's leases and the runs' times go by."""
    now: datetime = scalar(url, "SELECT now()")
    return now


def engine_failures(nodes: Nodes) -> list[str]:
    """The lines where an engine said that one of its tasks died (the scheduler, the
    heartbeat): the node goes on without it."""
    return [
        line
        for node in nodes.started
        for line in node.text().splitlines()
        if "task" in line and line.endswith(" failed") and "rota.engine" in line
    ]


# -- the server ---------------------------------------------------------------------------------


@dataclass
class Cluster:
    """This machine's PostgreSQL cluster, the test server (scripts/test starts it)."""

    version: str
    host: str
    port: int

    @classmethod
    def local(cls) -> Cluster | None:
        """The cluster serving the test URL, if it is this machine's (Debian's layout)."""
        url = make_url(server_url())
        versions = sorted(Path("/etc/postgresql").glob("*/main"), key=lambda p: p.parent.name)
        if url.host not in ("127.0.0.1", "localhost") or not versions:
            return None
        return cls(versions[-1].parent.name, url.host, url.port or 5432)

    def _ctl(self, action: str) -> None:
        command = ["pg_ctlcluster", "--skip-systemctl-redirect", self.version, "main", action]
        done = subprocess.run(command, capture_output=True, text=True, timeout=60)
        if done.returncode != 0:
            raise AssertionError(f"{' '.join(command)}: {done.stdout}{done.stderr}")

    def ready(self) -> bool:
        tool = shutil.which("pg_isready") or f"/usr/lib/postgresql/{self.version}/bin/pg_isready"
        command = [tool, "-q", "-h", self.host, "-p", str(self.port)]
        return subprocess.run(command, timeout=10).returncode == 0

    def restart(self) -> None:
        """Restart the server (a fast shutdown: every session is cut off)."""
        self._ctl("restart")

    def make_sure_it_is_up(self) -> None:
        """Wait for the server to accept connections, starting it if it will not by itself."""
        for attempt in range(2):
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                if self.ready():
                    return
                time.sleep(0.2)
            if attempt == 0:
                self._ctl("start")
        raise AssertionError(f"PostgreSQL {self.version} main is not up again")


# -- what rota recorded, and what the jobs did -------------------------------------------------


def summary(url: str) -> dict[str, int]:
    """How many runs are in each status."""
    rows = query(url, "SELECT status, count(*) AS n FROM runs GROUP BY status ORDER BY status")
    return {row["status"]: row["n"] for row in rows}


def effects_done(url: str) -> int:
    """How many effects of one-shot jobs there are."""
    return int(scalar(url, "SELECT count(*) FROM effects WHERE job LIKE %s", "shot-%"))


def finished(url: str, jobs: list[str]) -> bool:
    """Every one of these jobs has a succeeded run, and none has a run waiting or running."""
    rows = query(
        url,
        "SELECT count(DISTINCT job) FILTER (WHERE status = 'succeeded') AS succeeded,"
        " count(*) FILTER (WHERE status IN ('queued', 'running')) AS active"
        " FROM runs WHERE job = ANY(%s)",
        jobs,
    )
    return bool(rows[0]["succeeded"] == len(jobs) and rows[0]["active"] == 0)


def all_runs(url: str) -> list[Row]:
    """The runs of the plan's jobs: not those of rota's own pruning job, which fires every ten
    minutes of the clock, retries nothing, and may well fail while the server restarts."""
    return query(
        url,
        "SELECT id, job, reason, status, fire_time, attempt, node, note, retry_of FROM runs"
        " WHERE job <> 'rota-prune' ORDER BY id",
    )


def all_effects(url: str) -> list[Row]:
    return query(url, "SELECT job, fire_time, run_id, attempt, pid FROM effects")


def node_rows(url: str) -> dict[int, Row]:
    """The `nodes` rows by pid (a process has one row: registering again replaces it)."""
    return {row["pid"]: row for row in query(url, "SELECT * FROM nodes ORDER BY started_at")}


def exactly_once_problems(plan: Plan, runs: list[Row], effects: list[Row]) -> list[str]:
    """What breaks "each fire time ran, once": every one-shot fire time has exactly one
    schedule run and exactly one succeeded run; no run key twice, no interval fire time with
    two schedule runs, and no other reasons (no catch-up: nothing was late by the grace); a
    succeeded run did its effect once, an interrupted one at most once (its node may have done
    it before it died), any other none; a run that failed or was interrupted with attempts
    left was retried by exactly one run of the same fire time, the next attempt, pointing at
    it."""
    problems: list[str] = []
    keys = Counter((r["job"], r["fire_time"], r["reason"], r["attempt"]) for r in runs)
    problems += [f"run key {key} was created {n} times" for key, n in keys.items() if n > 1]
    scheduled = Counter((r["job"], r["fire_time"]) for r in runs if r["reason"] == "schedule")
    problems += [f"fire time {key} has {n} schedule runs" for key, n in scheduled.items() if n > 1]
    problems += [f"run {r} has reason {r['reason']}" for r in runs if r["reason"] not in OURS]

    by_fire: dict[tuple[str, datetime], list[Row]] = defaultdict(list)
    for run in runs:
        by_fire[run["job"], run["fire_time"]].append(run)
    for name, at in plan.shots:
        fired = by_fire.get((name, at), [])
        if scheduled[name, at] != 1:
            problems.append(f"{name} at {at} has {scheduled[name, at]} schedule runs: {fired}")
    for (job, at), fired in by_fire.items():
        succeeded = [r["status"] for r in fired].count("succeeded")
        if succeeded > 1 or (succeeded == 0 and job.startswith("shot-")):
            problems.append(f"{job} at {at} succeeded {succeeded} times: {fired}")

    by_id = {run["id"]: run for run in runs}
    done = Counter(effect["run_id"] for effect in effects)
    for effect in effects:
        run = by_id.get(effect["run_id"])
        ran = None if run is None else (run["job"], run["fire_time"], run["attempt"])
        if ran != (effect["job"], effect["fire_time"], effect["attempt"]):
            problems.append(f"effect {effect} is not of the run it names: {run}")
    retries_of: dict[int, list[Row]] = defaultdict(list)
    for run in runs:
        if run["retry_of"] is not None:
            retries_of[run["retry_of"]].append(run)
    for run in runs:
        allowed = {"succeeded": (1,), "interrupted": (0, 1)}.get(run["status"], (0,))
        if done[run["id"]] not in allowed:
            problems.append(f"run {run} did its effect {done[run['id']]} times")
        if run["status"] in ("interrupted", "failed") and run["attempt"] < RETRY_ATTEMPTS:
            retries = [
                (r["job"], r["fire_time"], r["reason"], r["attempt"]) for r in retries_of[run["id"]]
            ]
            if retries != [(run["job"], run["fire_time"], "retry", run["attempt"] + 1)]:
                problems.append(f"{run['status']} run {run} was retried as {retries}")
    return problems


def shown(problems: list[str], nodes: Nodes) -> str:
    listed = "\n".join(problems[:30])
    more = f"\n... and {len(problems) - 30} more" if len(problems) > 30 else ""
    return f"{len(problems)} problems:\n{listed}{more}\n{nodes.logs()}"


# -- a node killed ---------------------------------------------------------------------------


def test_three_nodes_one_killed_half_way_each_fire_time_runs_once(
    schema_url: str, nodes: Nodes, tmp_path: Path
) -> None:
    url = schema_url
    plan = Plan.spread(shots=2000, over=5, lead=8, ticks=[1, 1.5, 2])
    started = nodes.start(plan, tmp_path / "plan.json", count=3)
    wait_for(lambda: all(node.started() for node in started), 30, "nodes started", nodes, url)
    wait_for(lambda: effects_done(url) >= 1000, 60, "half the one-shots done", nodes, url)

    # Kill the node with the most runs in flight, so that most likely some are interrupted.
    busy = query(
        url,
        "SELECT nodes.pid, nodes.id FROM runs JOIN nodes ON nodes.id = runs.node"
        " WHERE runs.status = 'running' GROUP BY nodes.pid, nodes.id ORDER BY count(*) DESC",
    )
    victim = next((n for row in busy for n in started if n.pid == row["pid"]), started[0])
    nodes.kill(victim)
    killed = node_rows(url)[victim.pid]["id"]
    in_flight = {
        row["id"]
        for row in query(
            url,
            "SELECT id FROM runs WHERE node = %s AND status IN ('running', 'interrupted')",
            killed,
        )
    }

    # Runs left queued while every node idles: the lost claim of the next test.
    def forgotten() -> str | None:
        return stuck_runs(url, "queued", database_now(url) - LOST_QUEUED)

    shots = [name for name, _ in plan.shots]
    wait_for(lambda: finished(url, shots), 120, "every one-shot succeeded", nodes, url, forgotten)
    survivors = [node for node in started if node is not victim]
    assert [nodes.stop(node) for node in survivors] == [0, 0], nodes.logs()

    runs, effects = all_runs(url), all_effects(url)
    problems = exactly_once_problems(plan, runs, effects)
    assert problems == [], shown(problems, nodes)
    assert [r for r in runs if r["status"] == "running"] == [], nodes.logs()
    assert engine_failures(nodes) == [], nodes.logs()

    # The killed node's runs in flight, and only its runs, are recorded interrupted by one
    # of the live nodes, with a note that names both (their retries were checked above).
    interrupted = {r["id"]: r for r in runs if r["status"] == "interrupted"}
    assert in_flight <= set(interrupted), shown([str(in_flight - set(interrupted))], nodes)
    rows = node_rows(url)
    finders = {rows[node.pid]["id"] for node in survivors}
    for run in interrupted.values():
        assert run["node"] == killed, shown([f"a live node's run was interrupted: {run}"], nodes)
        note = run["note"] or ""
        assert killed in note, run
        assert any(f"found by {finder}" in note for finder in finders), run

    assert rows[victim.pid]["stopped_at"] is not None, rows  # reaped
    assert all(rows[node.pid]["stopped_at"] is not None for node in survivors), rows  # stopped


def test_a_node_that_loses_a_claim_to_another_node_goes_on_with_its_queue(
    schema_url: str, nodes: Nodes, tmp_path: Path
) -> None:
    # One slot, busy with shot-0 while shots 1-4 wait in the node's queue; then another node
    # (this test, writing what a node's claim writes) takes shot-1 before this node can. This
    # is what happens all the time among nodes that hear of the same queued runs, and what
    # left hundreds of runs queued, every node idle, in the three-node test.
    url = schema_url
    plan = Plan.spread(shots=5, over=0.2, lead=5, ticks=[], workers=1, sleeps={"shot-0": 1})
    (node,) = nodes.start(plan, tmp_path / "plan.json")
    wait_for(node.started, 15, "the node started", nodes, url)
    waiting = [f"shot-{i}" for i in range(1, 5)]

    def shot_0_runs_and_the_others_wait() -> bool:
        rows = query(url, "SELECT job, status FROM runs WHERE job LIKE %s", "shot-%")
        status = {row["job"]: row["status"] for row in rows}
        return status.get("shot-0") == "running" and all(
            status.get(job) == "queued" for job in waiting
        )

    wait_for(shot_0_runs_and_the_others_wait, 15, "shot-0 running, 1-4 queued", nodes, url)
    # A node that is not in `nodes`: this one never reaps it, so only the lost claim is at play.
    taken = query(
        url,
        "UPDATE runs SET status = 'running', node = 'elsewhere:1:other', started_at = now()"
        " WHERE job = 'shot-1' AND status = 'queued' RETURNING id",
    )
    assert len(taken) == 1, "shot-1 was claimed before the test could take it"
    wait_for(lambda: finished(url, ["shot-0"]), 10, "shot-0 succeeded", nodes, url)
    wait_for(lambda: finished(url, waiting[1:]), 3, "shots 2-4 succeeded", nodes, url)


def test_a_fire_time_while_another_node_runs_the_job_is_skipped(
    schema_url: str, nodes: Nodes, tmp_path: Path
) -> None:
    # overlap="skip", the default: never two runs of one job. The other node is this test,
    # writing what a node writes: its row, and a manual run of tick-0 that it claimed.
    url = schema_url
    plan = Plan.spread(shots=0, over=1, lead=0, ticks=[0.5])
    (node,) = nodes.start(plan, tmp_path / "plan.json")
    wait_for(node.started, 15, "the node started", nodes, url)
    store = SqlStore(url)
    store.open()
    try:
        now = database_now(url)
        other = "elsewhere:1:other"
        store.register_node(NodeRecord(other, "elsewhere", 1, now, now))  # alive for a lease
        queued = NewRun("tick-0", Reason.MANUAL, now)
        (run_id,) = store.apply([Enqueue(queued)])
        assert store.apply([Claim(run_id, other, now)]) == [True]
    finally:
        store.close()
    # Fire times after the claim committed: their runs are claimed after it, so the job is
    # busy for them (one due just before may have started before the claim, rightly).
    now = database_now(url)

    def fired_twice_since() -> bool:
        rows = query(
            url,
            "SELECT count(*) AS n FROM runs WHERE job = 'tick-0' AND reason = 'schedule'"
            " AND fire_time > %s AND status NOT IN ('queued', 'running')",
            now,
        )
        return bool(rows[0]["n"] >= 2)

    wait_for(fired_twice_since, 10, "two fire times of tick-0 recorded", nodes, url)
    rows = query(
        url,
        "SELECT id, status, note, started_at FROM runs WHERE job = 'tick-0'"
        " AND reason = 'schedule' AND fire_time > %s ORDER BY id",
        now,
    )
    assert [r for r in rows if r["status"] != "skipped"] == [], rows


# -- the server restarted --------------------------------------------------------------------


def test_two_nodes_through_a_server_restart_each_fire_time_runs_once(
    schema_url: str, nodes: Nodes, tmp_path: Path
) -> None:
    cluster = Cluster.local()
    if cluster is None:
        pytest.skip(f"restarts only this machine's own server, not {server_url()}")
    url = schema_url
    # shot-0 runs until the server goes away, then fails at once: a run that ends during the
    # restart, whatever the timing (its retry, the second attempt, is an ordinary run).
    plan = Plan.spread(shots=600, over=6, lead=3, ticks=[1, 1.5], bridges=["shot-0"])
    started = nodes.start(plan, tmp_path / "plan.json", count=2)
    wait_for(lambda: all(node.started() for node in started), 30, "nodes started", nodes, url)
    wait_for(lambda: effects_done(url) >= 300, 30, "half the one-shots done", nodes, url)
    try:
        cluster.restart()
    finally:
        cluster.make_sure_it_is_up()
    back = database_now(url)

    # Generous, but a run that began before the restart and still runs 10 s after will not end.
    def lost() -> str | None:
        return stuck_runs(url, "running", back) if database_now(url) > back + LOST_RUNNING else None

    shots = [name for name, _ in plan.shots]
    wait_for(lambda: finished(url, shots), 60, "every one-shot succeeded", nodes, url, lost)
    assert [nodes.stop(node) for node in started] == [0, 0], nodes.logs()

    runs, effects = all_runs(url), all_effects(url)
    problems = exactly_once_problems(plan, runs, effects)
    assert problems == [], shown(problems, nodes)
    assert [r for r in runs if r["status"] == "running"] == [], nodes.logs()
    assert engine_failures(nodes) == [], nodes.logs()
    rows = node_rows(url)
    assert all(rows[node.pid]["stopped_at"] is not None for node in started), rows
