"""Every admin action as one validated store transaction (docs/decisions/0006).

A command needs no engine: it writes to the store, and the store tells every listening engine, in
this process or another, once the transaction committed. The facade (`Rota`), the REST API and
the CLI all call these.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any

from rota.clock import Clock
from rota.engine.chains import check_change, downstream_of, upstream_of_records
from rota.engine.isolation import Isolation, check_isolable
from rota.engine.jobs import JobDefinition, load_target
from rota.engine.parameters import PARAMETERS, Parameters, setting_values
from rota.engine.policies import decide_overlap
from rota.engine.settings import OVERRIDABLE, JobSettings
from rota.engine.spawning import spawned_run
from rota.errors import ConflictError, SettingError, UnknownJobError, UnknownRunError
from rota.schedules import After, Manual, Once, Schedule
from rota.store.abc import Store
from rota.store.operations import (
    AddJob,
    Enqueue,
    NewRun,
    Operation,
    Removal,
    RemoveJob,
    RequestCancel,
    UpdateJob,
)
from rota.store.records import FAILURE_LIKE, JobKind, JobRecord, Reason, RunRecord, RunStatus

__all__ = ["CODE_ONLY", "Commands", "stored_settings"]

CODE_ONLY = frozenset({"requires"})
"""Settings that are functions in the job's code: never overridden by an admin."""


def stored_settings(record: JobRecord) -> JobSettings:
    """A job's effective settings from its row alone: the defaults its code stored, with the
    admin's overrides laid over (what any process can know without the job's code)."""
    return JobSettings().with_values(setting_values(record.defaults)).with_values(record.override)


class Commands:
    """The admin actions on one store. `definitions` are the jobs this process has code for
    (to check a run's arguments against the function); others are looked up by import path."""

    def __init__(
        self,
        store: Callable[[], Store],
        clock: Clock,
        timezone: str,
        definitions: Mapping[str, JobDefinition],
        registered: Callable[[], set[str] | None],
    ) -> None:
        """`registered` gives the jobs live nodes have code for (see `Views.registered`)."""
        self._registered = registered
        self._store = store
        self._clock = clock
        self._timezone = timezone
        self._definitions = definitions

    # -- runs -------------------------------------------------------------------------------

    def _runnable(self, name: str) -> JobRecord:
        """The record of a job a run may be asked of: refused if it is orphaned."""
        record = self.job(name)
        registered = self._registered()
        if record.kind is JobKind.CODE and registered is not None and name not in registered:
            raise ConflictError(
                f"job {name!r} is orphaned: no running node has its code, so a run would wait "
                "forever; start a node whose code defines it, or remove the job"
            )
        return record

    def run_now(self, name: str, args: Mapping[str, Any], at: datetime | None = None) -> int:
        """Queue a manual run (at once through the job's overlap policy, or at `at`); its id."""
        record = self._runnable(name)
        settings = stored_settings(record)
        merged = settings.with_values({"args": {**settings.args, **args}}).args
        self.parameters(record).check(name, merged)
        now = self._clock.now()
        if at is not None:
            at = _future(at, now, "at")
            run = NewRun(name, Reason.MANUAL, now, not_before=at, args=merged)
            operations: list[Operation] = [Enqueue(run)]
        else:
            operations = self._through_overlap(name, settings, now, merged)
        created: int = self.apply(operations)[-1]
        return created

    def enqueue(self, name: str, args: Mapping[str, Any], key: str | None = None) -> int | None:
        """Queue a one-off run with reason ``spawned`` (decision 0012): its id, or None if a
        queued or running run of the job has the same `key`."""
        record = self._runnable(name)
        settings = stored_settings(record)
        parameters = self.parameters(record)
        run = spawned_run(name, parameters, settings, key, args, None, self._clock.now())
        created: int | None = self.apply([Enqueue(run)])[-1]
        return created

    def _through_overlap(
        self, name: str, settings: JobSettings, now: datetime, args: Mapping[str, Any]
    ) -> list[Operation]:
        """A manual run now, created or skipped as the job's overlap policy says, after
        cancelling what `replace` replaces."""
        store = self._store()
        active = store.active_runs(name)
        running = [r.id for r in active if r.status is RunStatus.RUNNING]
        # A run asked for later does not count until its time has come.
        queued: list[int | None] = [
            r.id
            for r in active
            if r.status is RunStatus.QUEUED
            and not (r.reason is Reason.MANUAL and r.not_before is not None and r.not_before > now)
        ]
        decision = decide_overlap(settings.overlap, settings.max_concurrent, running, queued)
        note = "replaced by a run started by hand (overlap=replace)"
        operations: list[Operation] = [RequestCancel(i, now, note) for i in decision.cancel]
        status = RunStatus.QUEUED if decision.create else RunStatus.SKIPPED
        operations.append(
            Enqueue(NewRun(name, Reason.MANUAL, now, status, args=args, note=decision.reason))
        )
        return operations

    def cancel(self, run_id: int) -> RunRecord:
        """Cancel a queued or running run; a finished one is left as it is. The run, after."""
        before = self.apply([RequestCancel(run_id, self._clock.now(), "cancelled by an admin")])
        if before[0] is None:
            raise UnknownRunError(run_id)
        return self.run(run_id)

    def retry(self, run_id: int) -> int:
        """Queue the next attempt of a failed, timed-out, interrupted or cancelled run now."""
        run = self.run(run_id)
        if run.status not in FAILURE_LIKE | {RunStatus.CANCELLED}:
            raise ConflictError(
                f"run {run_id} is {run.status.value}: only a failed, timed-out, interrupted or "
                "cancelled run can be retried"
            )
        self.job(run.job)
        now = self._clock.now()
        attempt = NewRun(
            run.job,
            Reason.RETRY,
            now,
            fire_time=run.fire_time,
            attempt=run.attempt + 1,
            args=run.args,
            retry_of=run.id,
        )
        created: int | None = self.apply([Enqueue(attempt)])[0]
        if created is None:
            raise ConflictError(
                f"run {run_id} has been retried already (attempt {attempt.attempt})"
            )
        return created

    # -- jobs -------------------------------------------------------------------------------

    def pause(self, name: str, note: str | None) -> JobRecord:
        """Stop a job firing on its schedule (it can still be run by hand)."""
        if note is not None and (not isinstance(note, str) or len(note) > 2000):
            raise SettingError("note", repr(note)[:40], "must be text of at most 2,000 chars")
        self.job(name)
        return self._update(name, paused=True, pause_note=note, next_fire_at=None)

    def resume(self, name: str) -> JobRecord:
        """Let a paused job fire again, from its next fire time after now."""
        settings = stored_settings(self.job(name))
        following = settings.schedule.next_after(self._clock.now())
        return self._update(name, paused=False, pause_note=None, next_fire_at=following)

    def override(self, name: str, values: Mapping[str, Any]) -> JobRecord:
        """Override settings (by name, as code or JSON gives them); SettingError names a bad one.
        A changed schedule moves the next fire time."""
        record = self.job(name)
        for key in values:
            if key in CODE_ONLY:
                raise SettingError(
                    "setting",
                    str(key),
                    f"{key!r} is the job's code (prerequisites are functions): change it where "
                    "the job is defined; an admin cannot override it",
                )
            if key not in OVERRIDABLE:
                allowed = ", ".join(sorted(OVERRIDABLE))
                raise SettingError(
                    "setting",
                    str(key),
                    f"{key!r} is not an overridable setting; an admin may override {allowed}",
                )
        changed = stored_settings(record).with_values(values, self._timezone)
        if "isolation" in values and changed.isolation is Isolation.PROCESS:
            check_isolable(self.definition(record).function)
        if "schedule" in values:
            self._refuse_past(changed.schedule)
            self._refuse_broken_chain(name, changed.schedule)
        if "args" in values or "schedule" in values:
            # The runs get these arguments: a scheduled job's must be all its function needs.
            scheduled = not isinstance(changed.schedule, Manual)
            self.parameters(record).check(name, changed.args, complete=scheduled)
        wanted = changed.to_json()
        override = {**record.override, **{key: wanted[key] for key in values}}
        return self._write_settings(record, override, reschedule="schedule" in values)

    def reset(self, name: str, fields: tuple[str, ...] = ()) -> JobRecord:
        """Drop the admin's overrides of `fields` (all, and the pause, when none are named)."""
        record = self.job(name)
        for key in fields:
            if key not in OVERRIDABLE:
                raise SettingError("setting", str(key), f"{key!r} is not an overridable setting")
        schedule = stored_settings(record).with_values({"schedule": record.defaults["schedule"]})
        if "schedule" in record.override and (not fields or "schedule" in fields):
            self._refuse_broken_chain(name, schedule.schedule)
        if fields:
            override = {k: v for k, v in record.override.items() if k not in fields}
            return self._write_settings(record, override, reschedule="schedule" in fields)
        following = schedule.schedule.next_after(self._clock.now())
        return self._update(
            name, override={}, paused=False, pause_note=None, next_fire_at=following
        )

    def add_job(
        self, name: str, target: str, settings: JobSettings, *, definition: JobDefinition
    ) -> JobRecord:
        """Store a job defined at run time; ConflictError if the name is taken."""
        self._refuse_past(settings.schedule)
        self._refuse_broken_chain(name, settings.schedule)
        definition.check_arguments(
            settings.args, complete=not isinstance(settings.schedule, Manual)
        )
        now = self._clock.now()
        add = AddJob(
            name,
            JobKind.RUNTIME,
            target,
            {**settings.to_json(), PARAMETERS: definition.parameters.to_json()},
            now,
            next_fire_at=settings.schedule.next_after(now),
        )
        record: JobRecord | None = self.apply([add])[0]
        if record is None:
            raise ConflictError(f"a job named {name!r} exists already")
        return record

    def remove_job(self, name: str, registered: Callable[[], set[str]]) -> None:
        """Delete a run-time or orphaned job with its history; refused for a job that live
        code registers, rota's own jobs, and a job with a running run."""
        record = self.job(name)
        if record.kind is JobKind.INTERNAL:
            raise ConflictError(f"job {name!r} is rota's own and cannot be removed")
        if record.kind is JobKind.CODE and name in registered():
            raise ConflictError(
                f"job {name!r} is defined in the code of a running node: remove it there"
            )
        after = downstream_of(upstream_of_records(self._store().list_jobs()), name)
        if after:
            if len(after) == 1:
                which, change = f"job {after[0]!r} is", "its schedule"
            else:
                which, change = f"jobs {', '.join(map(repr, after))} are", "their schedules"
            raise ConflictError(f"{which} after job {name!r}: change {change} first")
        result = self.apply([RemoveJob(name, self._clock.now())])[0]
        if result is Removal.UNKNOWN:
            raise UnknownJobError(name)
        if result is Removal.RUNNING:
            raise ConflictError(f"job {name!r} has a running run: cancel it or let it finish")

    # -- shared -----------------------------------------------------------------------------

    def apply(self, operations: list[Operation]) -> list[Any]:
        return self._store().apply(operations)

    def job(self, name: str) -> JobRecord:
        if not isinstance(name, str):
            raise UnknownJobError(repr(name))
        record = self._store().get_job(name)
        if record is None:
            raise UnknownJobError(name)
        return record

    def run(self, run_id: int) -> RunRecord:
        run = self._store().get_run(run_id)
        if run is None:
            raise UnknownRunError(run_id)
        return run

    def definition(self, record: JobRecord) -> JobDefinition:
        """The job's function: this process's code, or a run-time job's import path."""
        known = self._definitions.get(record.name)
        if known is not None:
            return known
        if record.kind is JobKind.RUNTIME and record.target is not None:
            return JobDefinition.create(record.name, load_target(record.target), JobSettings())
        return JobDefinition.create(record.name, _any_arguments, JobSettings())

    def parameters(self, record: JobRecord) -> Parameters:
        """The parameters a run's arguments are checked against: the function's where this
        process has it (or imports a run-time job's), else those stored with the job when a node
        synced it or it was added; anything, for a job stored without them (its node checks
        the run's arguments then)."""
        known = self._definitions.get(record.name)
        if known is not None:
            return known.parameters
        stored = Parameters.stored(record.defaults)
        if record.kind is JobKind.RUNTIME and record.target is not None:
            try:
                return self.definition(record).parameters
            except SettingError:  # its module does not import here: the stored ones do
                if stored is None:
                    raise
                return stored
        return stored if stored is not None else self.definition(record).parameters

    def _write_settings(
        self, record: JobRecord, override: dict[str, Any], *, reschedule: bool
    ) -> JobRecord:
        changes: dict[str, Any] = {"override": override}
        if reschedule and not record.paused:
            settings = stored_settings(replace(record, override=override))
            changes["next_fire_at"] = settings.schedule.next_after(self._clock.now())
        return self._update(record.name, **changes)

    def _update(self, name: str, **changes: Any) -> JobRecord:
        record: JobRecord | None = self.apply([UpdateJob(name, self._clock.now(), **changes)])[0]
        if record is None:
            raise UnknownJobError(name)
        return record

    def _refuse_broken_chain(self, name: str, schedule: Schedule) -> None:
        """SettingError if `schedule` for job `name` makes a chain that cannot work: after
        itself, after a job that is not there, or a cycle (decision 0011)."""
        upstream = schedule.jobs if isinstance(schedule, After) else ()
        if name in upstream:
            raise SettingError("schedule", schedule.text, f"job {name!r} is after itself")
        check_change(self._store().list_jobs(), name, upstream)

    def _refuse_past(self, schedule: Schedule) -> None:
        if isinstance(schedule, Once):
            _future(schedule.at, self._clock.now(), "schedule")


def _future(at: object, now: datetime, field: str) -> datetime:
    if not isinstance(at, datetime) or at.utcoffset() is None:
        raise SettingError(field, repr(at)[:60], "give an aware datetime (with a time zone)")
    if at <= now:
        raise SettingError(
            field, at.isoformat(), f"{at.isoformat()} has passed (it is {now.isoformat()} now)"
        )
    return at


def _any_arguments(**kwargs: Any) -> None:
    """Stands for a job whose code this process does not have and whose parameters are not
    stored: its runs' arguments are checked by the node that runs them."""
