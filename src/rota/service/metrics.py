"""``/metrics``: Prometheus text, collected from the store on each scrape (so every node's runs
count, and nothing is kept between scrapes). Labels are job names and statuses only, never run
ids, so the number of series stays bounded by the jobs.

- ``rota_job_next_fire_timestamp_seconds{job}``: when the job fires next (absent: manual or paused)
- ``rota_job_last_success_timestamp_seconds{job}``: when its last successful run finished
- ``rota_job_consecutive_failures{job}``: failure-like runs since the last success
- ``rota_job_paused{job}``: 1 if paused
- ``rota_runs{job,status}``: runs kept in the store, by status
- ``rota_job_skipped_for_overlap{job}``: kept runs recorded skipped without starting (overlap)
- ``rota_queue_depth``: runs queued, all jobs

From this process's engine, when it runs one (`Engine.lag`; decision 0009, overload):

- ``rota_engine_behind``: 1 while the engine is behind its fire times
- ``rota_engine_lateness_seconds`` / ``rota_engine_worst_lateness_seconds``: how late the last
  batch of fire times was written / the worst so far
- ``rota_engine_backlog``: fire times still due when the last batch was full
- ``rota_engine_behind_episodes_total``, ``rota_engine_fire_times_total``,
  ``rota_engine_fire_times_coalesced_total`` (decided together with an earlier one of the same
  job), ``rota_engine_jobs_set_aside_total`` (busy skip jobs set aside while behind)
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

from fastapi import APIRouter, Response
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from rota.admin.views import MAX_PAGE
from rota.app import Rota
from rota.service.deps import RotaDep
from rota.store.records import JobKind, RunStatus

__all__ = ["RotaCollector", "router"]

router = APIRouter(tags=["health"])
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class RotaCollector(Collector):
    """Reads the store at each scrape."""

    def __init__(self, rota: Rota) -> None:
        self._rota = rota

    def collect(self) -> Iterator[Metric]:
        store = self._rota.store
        jobs = [job for job in store.list_jobs() if job.kind is not JobKind.INTERNAL]
        names = [job.name for job in jobs]
        stats = store.job_stats(names)
        next_fire = GaugeMetricFamily(
            "rota_job_next_fire_timestamp_seconds",
            "When the job fires next (Unix time); absent when manual or paused.",
            labels=["job"],
        )
        success = GaugeMetricFamily(
            "rota_job_last_success_timestamp_seconds",
            "When the job's last successful run finished (Unix time).",
            labels=["job"],
        )
        failures = GaugeMetricFamily(
            "rota_job_consecutive_failures",
            "Failed, timed-out or interrupted runs since the last success.",
            labels=["job"],
        )
        paused = GaugeMetricFamily("rota_job_paused", "1 if the job is paused.", labels=["job"])
        runs = GaugeMetricFamily(
            "rota_runs", "Runs kept in the store, by status.", labels=["job", "status"]
        )
        skipped = GaugeMetricFamily(
            "rota_job_skipped_for_overlap",
            "Kept runs recorded skipped without starting (a run was active: overlap).",
            labels=["job"],
        )
        for job in jobs:
            if job.next_fire_at is not None and not job.paused:
                next_fire.add_metric([job.name], job.next_fire_at.timestamp())
            paused.add_metric([job.name], 1.0 if job.paused else 0.0)
            found = stats.get(job.name)
            if found is not None and found.last_success is not None:
                finished = found.last_success.finished_at
                if finished is not None:
                    success.add_metric([job.name], finished.timestamp())
            failures.add_metric([job.name], found.consecutive_failures if found else 0)
            for status in RunStatus:
                runs.add_metric([job.name, status.value], store.count_runs(job.name, {status}))
            never_started = sum(
                run.started_at is None
                for run in store.list_runs(job.name, {RunStatus.SKIPPED}, MAX_PAGE)
            )
            skipped.add_metric([job.name], never_started)
        depth = GaugeMetricFamily("rota_queue_depth", "Runs queued, all jobs.")
        depth.add_metric([], store.count_runs(None, {RunStatus.QUEUED}))
        yield from (next_fire, success, failures, paused, runs, skipped, depth)
        yield from self._engine()

    def _engine(self) -> Iterator[Metric]:
        engine = self._rota.engine
        if engine is None:
            return
        lag = engine.lag
        gauges = [
            ("rota_engine_behind", "1 while the engine is behind its fire times.", lag.behind),
            (
                "rota_engine_lateness_seconds",
                "How late the last batch of fire times was written.",
                lag.lateness.total_seconds(),
            ),
            (
                "rota_engine_worst_lateness_seconds",
                "The worst lateness of a batch of fire times since the engine started.",
                lag.worst.total_seconds(),
            ),
            (
                "rota_engine_backlog",
                "Fire times still due when the last batch was written (0 unless it was full).",
                lag.backlog,
            ),
        ]
        for name, text, value in gauges:
            gauge = GaugeMetricFamily(name, text)
            gauge.add_metric([], float(value))
            yield gauge
        counters = [
            ("rota_engine_behind_episodes", "Times the engine fell behind.", lag.episodes),
            ("rota_engine_fire_times", "Fire times written.", lag.fired),
            (
                "rota_engine_fire_times_coalesced",
                "Fire times decided in one step with an earlier one of the same job.",
                lag.coalesced,
            ),
            (
                "rota_engine_jobs_set_aside",
                "Times a busy skip job was set aside while the engine was behind.",
                lag.parked,
            ),
        ]
        for name, text, value in counters:
            counter = CounterMetricFamily(name, text)
            counter.add_metric([], float(value))
            yield counter


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE: {"schema": {"type": "string"}}}}},
)
async def metrics(rota: RotaDep) -> Response:
    """The metrics above, in Prometheus' text format (a viewer token reads them)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(RotaCollector(rota))
    body = await asyncio.to_thread(generate_latest, registry)
    return Response(body, media_type=CONTENT_TYPE)
