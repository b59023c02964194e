"""The runs a worker holds that wait for a slot, taken in turn by job.

Each job's waiting runs are in fire-time order; the jobs take turns: a pick goes round the jobs
that have waiting runs, one run per job per round, starting with the job served longest ago, and
a job that got a run goes to the back. So under overload every job gets runs in turn, and one
job with many waiting runs (``overlap="allow"``, catch-up, retries) cannot hold the others back;
with one waiting run per job, as usual, that is fire-time order.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
from typing import TYPE_CHECKING

from rota.engine.runs import QueuedRun

if TYPE_CHECKING:
    from rota.engine.jobs import JobState

__all__ = ["WaitingRuns"]


class WaitingRuns:
    """See the module docstring."""

    def __init__(self) -> None:
        # Job name → its waiting runs; the dict's order is the order of turns.
        self._by_job: dict[str, list[QueuedRun]] = {}
        self._count = 0

    def __len__(self) -> int:
        return self._count

    def __iter__(self) -> Iterator[QueuedRun]:
        for runs in self._by_job.values():
            yield from runs

    def add(self, run: QueuedRun) -> None:
        """Hold a run; a job with no waiting run so far takes its turn last."""
        bisect.insort(self._by_job.setdefault(run.job, []), run)
        self._count += 1

    def remove(self, job: str, run_id: int) -> QueuedRun | None:
        """Let go of a run (None if it is not held)."""
        runs = self._by_job.get(job, [])
        for index, run in enumerate(runs):
            if run.id == run_id:
                del runs[index]
                self._count -= 1
                if not runs:
                    del self._by_job[job]
                return run
        return None

    def served(self, run: QueuedRun) -> None:
        """A picked run starts: it leaves, and its job goes to the back of the turns."""
        if self.remove(run.job, run.id) is not None and run.job in self._by_job:
            self._by_job[run.job] = self._by_job.pop(run.job)

    def pick(
        self,
        free: int,
        now: datetime,
        jobs: Mapping[str, JobState],
        ready_at: Callable[[JobState, QueuedRun], datetime],
    ) -> tuple[list[QueuedRun], datetime | None]:
        """Up to `free` runs that may start at `now` (their job has room and they are ready), by
        turns; and the earliest instant a run seen not ready becomes ready."""
        picked: list[QueuedRun] = []
        wake_at: datetime | None = None
        taken: dict[str, int] = {}
        cursor: dict[str, int] = {}
        while len(picked) < free:
            found = False
            for job, runs in self._by_job.items():
                if len(picked) >= free:
                    break
                state = jobs.get(job)
                if state is None or len(state.running) + taken.get(job, 0) >= state.limit:
                    continue
                index = cursor.get(job, 0)
                while index < len(runs):
                    run = runs[index]
                    index += 1
                    ready = ready_at(state, run)
                    if ready > now:
                        wake_at = ready if wake_at is None else min(wake_at, ready)
                        continue
                    picked.append(run)
                    taken[job] = taken.get(job, 0) + 1
                    found = True
                    break
                cursor[job] = index
            if not found:
                break
        return picked, wake_at
