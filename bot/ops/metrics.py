"""Prometheus metrics for the job queue and the style-transfer worker.

Recording always happens, in memory and cheaply; "metrics off" (the default) only means that
`serve` is never called, so nothing listens on a port. Each Metrics owns its registry rather than
using prometheus_client's global one, so instances (one per bot, one per test) never collide.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Protocol
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

# Style-transfer jobs take from seconds (small, GPU) to many minutes (large, CPU).
JOB_DURATION_BUCKETS = (5, 10, 30, 60, 120, 300, 600, 1200, 1800, 3600)
QUEUE_WAIT_BUCKETS = (1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600)


class WorkerStats(Protocol):
    """One worker process's own counters, as its heartbeat reports them (`bot.queue.redis.wire.worker_info`)."""

    @property
    def id(self) -> str: ...
    @property
    def device(self) -> str: ...
    @property
    def jobs_done(self) -> int: ...
    @property
    def jobs_failed(self) -> int: ...
    @property
    def iterations(self) -> int: ...
    @property
    def busy_s(self) -> float: ...


class MetricsError(Exception):
    """The endpoint cannot listen where the config says; `str()` names the address and the reason."""


class Metrics:
    """The bot's metrics. Call the `job_*` methods as a job moves through the queue."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self._queued = Gauge("stylebot_jobs_queued", "Jobs waiting in the queue.", registry=self.registry)
        self._running = Gauge("stylebot_jobs_running", "Jobs being stylized now.", registry=self.registry)
        self._finished = Counter(
            "stylebot_jobs_finished",
            "Jobs that left the system, by outcome.",
            ["outcome"],
            registry=self.registry,
        )
        self._duration = Histogram(
            "stylebot_job_duration_seconds",
            "Time from a job's start on the worker to its end.",
            buckets=JOB_DURATION_BUCKETS,
            registry=self.registry,
        )
        self._queue_wait = Histogram(
            "stylebot_job_queue_wait_seconds",
            "Time a job waited in the queue before the worker started it.",
            buckets=QUEUE_WAIT_BUCKETS,
            registry=self.registry,
        )
        self._iterations = Counter(
            "stylebot_iterations", "Optimisation iterations run by the worker.", registry=self.registry
        )
        self._iterations_per_second = Gauge(
            "stylebot_iterations_per_second",
            "Iteration rate of the worker's most recent progress report.",
            registry=self.registry,
        )
        self._workers_online = Gauge(
            "stylebot_workers_online", "Workers serving the queue now.", registry=self.registry
        )
        self._server: WSGIServer | None = None
        self._thread: threading.Thread | None = None

    def watch_workers(self, online: Callable[[], int], workers: Callable[[], Sequence[WorkerStats]] | None) -> None:
        """Read the workers at each scrape: how many are online, and (Redis workers) each one's counters."""
        self._workers_online.set_function(online)
        if workers is not None:
            self.registry.register(_WorkerCollector(workers))

    def set_queue_depth(self, jobs: int) -> None:
        """Sets the queued count outright, e.g. after jobs persisted in SQLite were restored at start-up."""
        self._queued.set(jobs)

    def job_queued(self) -> None:
        self._queued.inc()

    def job_started(self, wait_s: float) -> None:
        """A queued job reached the worker after waiting `wait_s` seconds."""
        self._queued.dec()
        self._running.inc()
        self._queue_wait.observe(wait_s)

    def job_finished(self, outcome: str, duration_s: float) -> None:
        """A started job ended; `outcome` is one of a small fixed set (e.g. done, failed, cancelled)."""
        self._running.dec()
        self._finished.labels(outcome=outcome).inc()
        self._duration.observe(duration_s)

    def job_dropped(self, outcome: str) -> None:
        """A queued job left without ever starting (cancelled, expired)."""
        self._queued.dec()
        self._finished.labels(outcome=outcome).inc()

    def iterations(self, count: int, seconds: float) -> None:
        """The worker ran `count` iterations in `seconds` since its last report."""
        self._iterations.inc(count)
        if seconds > 0:
            self._iterations_per_second.set(count / seconds)

    @property
    def port(self) -> int | None:
        """The port the endpoint listens on (the one chosen with port 0); None while not serving."""
        return self._server.server_port if self._server is not None else None

    def serve(self, host: str, port: int) -> int:
        """Starts the HTTP endpoint in a daemon thread; returns the bound port (useful with port 0)."""
        if self._server is not None:
            raise RuntimeError("metrics endpoint already running")
        try:
            self._server, self._thread = start_http_server(port, addr=host, registry=self.registry)
        except OSError as exc:  # port taken, address not on this host: a set-up problem, not a crash
            raise MetricsError(f"[metrics] cannot listen on {host}:{port}: {exc.strerror or exc}") from None
        return self._server.server_port

    def stop(self) -> None:
        """Stops the endpoint, if running, and releases its port."""
        if self._server is None or self._thread is None:
            return
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()
        self._server = self._thread = None


class _WorkerCollector(Collector):
    """Per-worker counters, taken from the workers' latest heartbeats when Prometheus scrapes."""

    def __init__(self, workers: Callable[[], Sequence[WorkerStats]]) -> None:
        self.workers = workers

    def collect(self) -> Iterator[Metric]:
        labels = ["worker", "device"]
        jobs = CounterMetricFamily(
            "stylebot_worker_jobs", "Jobs a worker ended, by outcome.", labels=[*labels, "outcome"]
        )
        iterations = CounterMetricFamily("stylebot_worker_iterations", "Iterations a worker ran.", labels=labels)
        busy = CounterMetricFamily(
            "stylebot_worker_busy_seconds", "Seconds a worker spent running jobs.", labels=labels
        )
        mean = GaugeMetricFamily("stylebot_worker_job_seconds_mean", "A worker's mean job duration.", labels=labels)
        for worker in self.workers():
            names = [worker.id, worker.device]
            jobs.add_metric([*names, "failed"], worker.jobs_failed)
            jobs.add_metric([*names, "other"], worker.jobs_done - worker.jobs_failed)
            iterations.add_metric(names, worker.iterations)
            busy.add_metric(names, worker.busy_s)
            if worker.jobs_done:
                mean.add_metric(names, worker.busy_s / worker.jobs_done)
        yield from (jobs, iterations, busy, mean)

    def describe(self) -> Iterator[Metric]:
        return iter(())  # the families depend on which workers are online: nothing to check at registration
