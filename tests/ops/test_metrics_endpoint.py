"""bot.ops.metrics: what the job methods record, as a Prometheus server scraping loopback would see it."""

from __future__ import annotations

import socket
import urllib.request
from collections.abc import Iterator

import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.ops.metrics import Metrics


@pytest.fixture
def metrics() -> Iterator[Metrics]:
    metrics = Metrics()
    yield metrics
    metrics.stop()


def scrape(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """GET /metrics and return {(sample name, sorted labels): value}."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        assert response.status == 200
        text = response.read().decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_job_lifecycle_is_scraped_from_loopback(metrics: Metrics) -> None:
    port = metrics.serve("127.0.0.1", 0)
    for _ in range(3):
        metrics.job_queued()
    metrics.job_started(wait_s=2.0)
    metrics.job_finished("done", duration_s=45.0)
    metrics.job_started(wait_s=20.0)
    metrics.job_dropped("cancelled")
    metrics.iterations(50, seconds=2.0)
    metrics.iterations(30, seconds=1.0)

    samples = scrape(port)

    assert samples[("stylebot_jobs_queued", ())] == 0
    assert samples[("stylebot_jobs_running", ())] == 1
    assert samples[("stylebot_jobs_finished_total", (("outcome", "done"),))] == 1
    assert samples[("stylebot_jobs_finished_total", (("outcome", "cancelled"),))] == 1
    assert samples[("stylebot_job_duration_seconds_count", ())] == 1
    assert samples[("stylebot_job_duration_seconds_sum", ())] == 45.0
    assert samples[("stylebot_job_duration_seconds_bucket", (("le", "30.0"),))] == 0
    assert samples[("stylebot_job_duration_seconds_bucket", (("le", "60.0"),))] == 1
    assert samples[("stylebot_job_queue_wait_seconds_count", ())] == 2
    assert samples[("stylebot_job_queue_wait_seconds_bucket", (("le", "5.0"),))] == 1
    assert samples[("stylebot_job_queue_wait_seconds_sum", ())] == 22.0
    assert samples[("stylebot_iterations_total", ())] == 80
    assert samples[("stylebot_iterations_per_second", ())] == 30.0


def test_queue_depth_can_be_restored_after_a_restart(metrics: Metrics) -> None:
    port = metrics.serve("127.0.0.1", 0)
    metrics.set_queue_depth(4)
    metrics.job_queued()

    assert scrape(port)[("stylebot_jobs_queued", ())] == 5


def test_zero_length_report_counts_iterations_without_a_rate(metrics: Metrics) -> None:
    port = metrics.serve("127.0.0.1", 0)
    metrics.iterations(10, seconds=0.0)

    samples = scrape(port)
    assert samples[("stylebot_iterations_total", ())] == 10
    assert samples[("stylebot_iterations_per_second", ())] == 0


def test_instances_have_separate_registries() -> None:
    first, second = Metrics(), Metrics()  # would raise "Duplicated timeseries" on a shared registry
    first.job_queued()
    assert second.registry.get_sample_value("stylebot_jobs_queued") == 0
    assert first.registry.get_sample_value("stylebot_jobs_queued") == 1


def test_stop_closes_the_endpoint(metrics: Metrics) -> None:
    port = metrics.serve("127.0.0.1", 0)
    assert scrape(port)

    metrics.stop()

    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=10).close()


def test_serving_twice_is_refused(metrics: Metrics) -> None:
    metrics.serve("127.0.0.1", 0)
    with pytest.raises(RuntimeError, match="already running"):
        metrics.serve("127.0.0.1", 0)
