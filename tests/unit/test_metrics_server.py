"""A stream worker's metrics port answers Kubernetes' probes: /healthz while the process
serves, /readyz only while the worker owns its partitions (antenna_worker_ready is 1)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from prometheus_client import CollectorRegistry, Gauge

from services.common.broker import free_port
from services.common.metrics import WORKER_READY_METRIC, serve_metrics, workers_ready


@pytest.fixture
def gauge() -> tuple[Gauge, CollectorRegistry]:
    """A worker-ready gauge of this test's own, not the process-wide one."""
    registry = CollectorRegistry()
    return Gauge(WORKER_READY_METRIC, "test", ["app"], registry=registry), registry


@pytest.fixture
def base_url(gauge: tuple[Gauge, CollectorRegistry]) -> Iterator[str]:
    _, registry = gauge
    port = free_port()
    server = serve_metrics("127.0.0.1", port, ready=lambda: workers_ready(registry))
    assert server is not None
    yield f"http://127.0.0.1:{port}"
    server.shutdown()
    server.server_close()


def test_readyz_follows_the_worker_ready_gauge(
    base_url: str, gauge: tuple[Gauge, CollectorRegistry]
) -> None:
    ready, _ = gauge
    assert httpx.get(f"{base_url}/readyz").status_code == 503  # no worker yet
    ready.labels("antenna-processor").set(0)
    assert httpx.get(f"{base_url}/readyz").status_code == 503
    assert httpx.get(f"{base_url}/healthz").status_code == 200  # alive while not ready
    ready.labels("antenna-processor").set(1)
    assert httpx.get(f"{base_url}/readyz").status_code == 200
    ready.labels("antenna-processor").set(0)  # a rebalance starts
    assert httpx.get(f"{base_url}/readyz").status_code == 503


def test_every_worker_of_the_process_must_be_ready(gauge: tuple[Gauge, CollectorRegistry]) -> None:
    ready, registry = gauge
    ready.labels("one").set(1)
    ready.labels("other").set(0)
    assert not workers_ready(registry)
    ready.labels("other").set(1)
    assert workers_ready(registry)


def test_metrics_are_still_served_at_the_root_and_at_metrics(base_url: str) -> None:
    for path in ("/", "/metrics"):
        response = httpx.get(base_url + path)
        assert response.status_code == 200
        assert "# TYPE python_info gauge" in response.text


def test_port_zero_serves_nothing() -> None:
    assert serve_metrics("127.0.0.1", 0) is None
