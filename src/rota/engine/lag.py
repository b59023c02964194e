"""How far behind its fire times the scheduler is: numbers for metrics, a log line per episode.

Fire times that fell due before the engine started were missed while it was stopped: they are
caught up (one line says so at start), and do not count as lateness; being behind is the
scheduler falling behind while it runs."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

__all__ = ["BEHIND_AFTER", "Lag"]

log = logging.getLogger("rota.engine")

# Fire times written later than this after they were due mean the engine is behind.
BEHIND_AFTER = timedelta(seconds=1)
# How long after it was last behind the engine still sheds load (`Lag.shedding`): without it,
# catching up would end the shedding, and the load would put it behind again at once.
SHED_FOR = timedelta(seconds=30)


@dataclass
class Lag:
    """The scheduler's lateness, kept up to date by it; what a metrics endpoint reads.

    `lateness` is how late the last batch of fire times was written (its earliest fire time to
    the instant it was written), `backlog` how many more were due then (0 unless a batch was full),
    `behind` whether the engine is behind now (`lateness` over `BEHIND_AFTER`, or a backlog),
    `episodes` how many times it fell behind, `worst` the largest lateness seen, `fired` the fire
    times written in all, `coalesced` the fire times that were due together with an earlier one
    of the same job and were decided in the same step as it (``overlap="skip"``: one write for
    all, not one each), `parked` how many times a skip job with an active run was set aside
    while shedding load (looked at again when its run ends: `rota.engine.shedding`).
    """

    lateness: timedelta = timedelta(0)
    backlog: int = 0
    behind: bool = False
    episodes: int = 0
    worst: timedelta = timedelta(0)
    fired: int = 0
    coalesced: int = 0
    parked: int = 0
    _since: datetime | None = None
    _last_behind: datetime | None = None
    _began: datetime | None = None
    _episode_worst: timedelta = timedelta(0)

    def started(self, now: datetime, due: list[datetime]) -> None:
        """The scheduler starts at `now` with the jobs due at `due`: those before `now` were
        missed while the engine was stopped, and are said to be caught up, not late."""
        self._began = now
        missed = [at for at in due if at < now]
        if missed:
            oldest = (now - min(missed)).total_seconds()
            jobs = "1 job" if len(missed) == 1 else f"{len(missed):,} jobs"
            log.info(
                "rota is catching up the fire times of %s missed while it was stopped "
                "(the oldest was due %s before it started)",
                jobs,
                _span(oldest),
            )

    def shedding(self, now: datetime) -> bool:
        """Whether the engine sheds load now: it is behind, or was within `SHED_FOR`."""
        return self.behind or (self._last_behind is not None and now - self._last_behind < SHED_FOR)

    def batch(self, earliest: datetime, count: int, backlog: int, now: datetime) -> None:
        """`count` fire times from `earliest` on were written at `now`; `backlog` more are due.
        Lateness counts from the start at the earliest (`started`)."""
        if self._began is not None:
            earliest = max(earliest, self._began)
        self.lateness = max(now - earliest, timedelta(0))
        self.backlog = backlog
        self.worst = max(self.worst, self.lateness)
        self.fired += count
        late = self.lateness > BEHIND_AFTER or backlog > 0
        if late:
            self._last_behind = now
        if late and not self.behind:
            self.behind, self._since = True, now
            self.episodes += 1
            more = f", {backlog:,} more are due" if backlog else ""
            log.warning(
                "rota is behind: fire times are taken up %.1f s after they were due%s",
                self.lateness.total_seconds(),
                more,
            )
            self._episode_worst = self.lateness
        elif late:
            self._episode_worst = max(self._episode_worst, self.lateness)
        elif self.behind:
            self.behind = False
            took = (now - self._since).total_seconds() if self._since else 0.0
            log.warning(
                "rota caught up with its fire times after %.1f s behind "
                "(they were taken up to %.1f s late)",
                took,
                self._episode_worst.total_seconds(),
            )


def _span(seconds: float) -> str:
    """A length of time for a log line: ``"13.9 s"``, ``"4.2 min"``, ``"2.0 h"``, ``"3.1 d"``."""
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds / size:.1f} {unit}"
    return f"{seconds:.1f} s"
