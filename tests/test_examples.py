"""The demo runs, records runs, really writes gzipped backups, and stops cleanly."""

from __future__ import annotations

import gzip
import sqlite3
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parent.parent


def test_media_jobs_demo(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "examples/media_jobs.py",
            "--plain",
            "--duration",
            "2",
            "--data",
            tmp_path,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"rota demo on {tmp_path / 'rota.db'}: Ctrl-C stops it")
    assert "stopped; " in result.stdout
    with sqlite3.connect(tmp_path / "rota.db") as database:
        jobs = {name for (name,) in database.execute("select name from jobs")}
    assert jobs == {
        "sync-users",
        "library-scan",
        "database-backup",
        "refresh-metadata",
        "rota-prune",
    }


def test_the_backup_job_copies_gzips_and_keeps_seven(tmp_path: Path) -> None:
    script = f"""
import sys
sys.argv = ["media_jobs.py", "--data", {str(tmp_path)!r}]
sys.path.insert(0, "examples")
import media_jobs
with media_jobs.rota:
    for _ in range(9):
        media_jobs.rota.wait(media_jobs.rota.run_now("database-backup"), timeout=20)
"""
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    backups = sorted((tmp_path / "backups").glob("rota-*.db.gz"))
    assert len(backups) == 7
    copy = tmp_path / "restored.db"
    copy.write_bytes(gzip.decompress(backups[-1].read_bytes()))
    with sqlite3.connect(copy) as database:
        assert database.execute("select count(*) from jobs").fetchone()[0] == 5
