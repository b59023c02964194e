"""The parent of `bench/run.py`: starts one process per workload, system and repetition,
alternating the systems, collects their JSON lines, and hands them to the report."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import plan
from bench.report import describe_machine, render

Outcome = dict[str, Any]
Collected = dict[tuple[str, str], dict[str, list[Outcome]]]


def command_for(task: plan.Task, system: str) -> list[str]:
    chosen = () if system == "floor" else ("--system", system)
    return [sys.executable, "-m", f"bench.workloads.{task.module}", *chosen, *task.args]


def run_process(task: plan.Task, system: str, root: Path, scratch: str) -> Outcome:
    """Run one workload process; its JSON line, or an error saying what went wrong."""
    path = os.environ.get("PYTHONPATH")
    env = {**os.environ, "BENCH_TMP": scratch}
    env["PYTHONPATH"] = str(root) + (os.pathsep + path if path else "")
    began = time.monotonic()
    process = subprocess.Popen(
        command_for(task, system),
        cwd=root,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group: a time-out ends its children too
    )
    try:
        out, err = process.communicate(timeout=task.timeout)
    except subprocess.TimeoutExpired:
        _end(process)
        return {"error": f"timed out after {task.timeout:.0f} s", "_took_s": task.timeout}
    result: Outcome
    try:
        result = json.loads(out.strip().splitlines()[-1])
    except (IndexError, ValueError):
        tail = (err.strip().splitlines() or ["no output"])[-1]
        result = {"error": f"exit {process.returncode}: {tail[:200]}"}
    result["_took_s"] = time.monotonic() - began
    return result


def _end(process: subprocess.Popen[str]) -> None:
    """SIGTERM (the workload then removes its temp dir), SIGKILL if that is not enough."""
    for sig, grace in ((signal.SIGTERM, 15.0), (signal.SIGKILL, 15.0)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        try:
            process.communicate(timeout=grace)
            return
        except subprocess.TimeoutExpired:
            continue


def skip_reason(task: plan.Task, system: str, earlier: list[Outcome]) -> str | None:
    """APScheduler's W1 is not tried again at a size where it could not add everything."""
    for rep, outcome in enumerate(earlier, start=1):
        if task.workload == "W1" and outcome.get("complete") is False:
            return f"skipped: in repetition {rep} it did not finish adding within 120 s"
    return None


def order(tasks: list[plan.Task], reps: int) -> list[tuple[int, plan.Task, str]]:
    """(repetition, task, system) in the order they run: repetition by repetition, the systems
    taking turns at going first."""
    steps = []
    for rep in range(1, reps + 1):
        first = plan.BOTH if rep % 2 else plan.BOTH[::-1]
        for task in tasks:
            systems = [s for s in first if s in task.systems]
            steps += [
                (rep, task, s) for s in systems + [s for s in task.systems if s not in systems]
            ]
    return steps


def collect(tasks: list[plan.Task], reps: int, root: Path) -> Collected:
    """Run every step; a step that fails or times out is recorded as such."""
    collected: Collected = {(t.workload, t.config): {s: [] for s in t.systems} for t in tasks}
    steps = order(tasks, reps)
    with tempfile.TemporaryDirectory(prefix="rota-bench-") as scratch:
        for done, (rep, task, system) in enumerate(steps, start=1):
            earlier = collected[(task.workload, task.config)][system]
            reason = skip_reason(task, system, earlier)
            outcome: Outcome = {"skipped": reason} if reason else {}
            if not reason:
                outcome = run_process(task, system, root, scratch)
            outcome["_rep"] = rep
            earlier.append(outcome)
            status = outcome.get("error") or outcome.get("skipped") or "ok"
            print(
                f"[{done}/{len(steps)}] rep {rep} {task.workload} {task.config} {system}: "
                f"{outcome.get('_took_s', 0.0):.1f} s, {status}",
                file=sys.stderr,
                flush=True,
            )
    return collected


def main(argv: list[str], root: Path) -> int:
    arguments = argparse.ArgumentParser(prog="bench/run.py", description="rota vs APScheduler")
    arguments.add_argument("--quick", action="store_true", help="small sizes, one repetition")
    arguments.add_argument("--only", action="append", help="W1, W2, W3, W4 or floor (repeatable)")
    arguments.add_argument("--reps", type=int, help="repetitions (default 3; --quick: 1)")
    arguments.add_argument("--out", type=Path, default=root / "bench" / "results" / "latest.md")
    arguments.add_argument("--report", type=Path, help="only print the tables of a saved .json")
    args = arguments.parse_args(argv)
    if args.report:
        raw = json.loads(args.report.read_text())
        print(render({(w, c): v for w, c, v in raw["results"]}, raw["meta"]))
        return 0
    tasks = plan.quick() if args.quick else plan.full()
    if args.only:
        wanted = {name.strip().lower() for item in args.only for name in item.split(",")}
        tasks = [t for t in tasks if t.workload.lower() in wanted]
        if not tasks:
            arguments.error(f"--only {args.only}: no such workload (W1, W2, W3, W4, floor)")
    reps = args.reps or (1 if args.quick else 3)
    began = datetime.now(UTC)
    collected = collect(tasks, reps, root)
    meta = {
        "command": " ".join(["bench/run.py", *argv]),
        "started": began.strftime("%Y-%m-%d %H:%M UTC"),
        "minutes": (datetime.now(UTC) - began).total_seconds() / 60,
        "reps": reps,
        "machine": describe_machine(),
    }
    text = render(collected, meta)
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text + "\n")
    raw = {"meta": meta, "results": [[*key, value] for key, value in collected.items()]}
    args.out.with_suffix(".json").write_text(json.dumps(raw, indent=1) + "\n")
    print(f"\n(written to {args.out})", file=sys.stderr)
    return 0
