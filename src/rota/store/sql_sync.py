"""`SqlStore.sync_jobs`: the code's jobs into the jobs table, at every start, over every job.

One read of all rows, with the defaults as the JSON text the column holds, compared as text with
the code's; only jobs that differ are written, and nothing is read twice.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Text, bindparam, cast, insert, select, update

from rota.store.dialect import lock_for_sync
from rota.store.records import JobKind, JobRecord
from rota.store.schema import jobs

__all__ = ["sync_jobs"]

_SYNC_SLICE = 1000


def sync_jobs(
    connection: Connection,
    wanted: dict[str, str],
    internal: set[str],
    update_known: bool,
    at: datetime,
) -> tuple[list[JobRecord], dict[str, dict[str, Any]], list[JobRecord]]:
    """Sync on `connection` (in a write transaction) the jobs `wanted` (name: defaults as JSON
    text; consumed); every job after it, the defaults replaced and the rows added."""
    replaced: dict[str, dict[str, Any]] = {}
    records: list[JobRecord] = []
    changes: list[dict[str, Any]] = []  # rows whose defaults to replace
    columns = [cast(c, Text).label(c.name) if c is jobs.c.defaults else c for c in jobs.c]
    lock_for_sync(connection)
    for row in connection.execute(select(*columns)):
        name, kind = row.name, JobKind(row.kind)
        text = wanted.pop(name, None)
        stored: dict[str, Any] = json.loads(row.defaults)
        changed = False
        ours = JobKind.INTERNAL if name in internal else JobKind.CODE
        # A row of another kind under a code name (a runtime job) is the caller's to judge.
        if update_known and text is not None and kind is ours and text != row.defaults:
            # Equal objects may differ in spelling (key order): compare them decoded.
            code: dict[str, Any] = json.loads(text)
            if code != stored:
                replaced[name], stored = stored, code
                changes.append({"v_name": name, "v_defaults": code})
                changed = True
        records.append(
            JobRecord(
                name,
                stored,
                row.override,
                row.paused,
                row.pause_note,
                kind,
                row.target,
                row.next_fire_at,
                row.created_at,
                at if changed else row.updated_at,
            )
        )
    if changes:
        statement = update(jobs).where(jobs.c.name == bindparam("v_name"))
        values = {"defaults": bindparam("v_defaults"), "updated_at": at}
        connection.execute(statement.values(**values), changes)
    new = [
        JobRecord(
            name,
            json.loads(text),
            {},
            False,
            None,
            JobKind.INTERNAL if name in internal else JobKind.CODE,
            None,
            None,
            at,
            at,
        )
        for name, text in wanted.items()
    ]
    # In slices: the driver's parameters for 100,000 rows at once would cost more memory than
    # the jobs themselves.
    for start in range(0, len(new), _SYNC_SLICE):
        rows = [
            {c.name: getattr(record, c.name) for c in jobs.c}
            for record in new[start : start + _SYNC_SLICE]
        ]
        connection.execute(insert(jobs), rows)
    return records + new, replaced, new
