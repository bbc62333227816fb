"""Serve a service's Prometheus metrics. Labels carry identifiers of code paths
(channel, kind, destination, status), never personal data."""

from __future__ import annotations

from prometheus_client import start_http_server

# 1 while a stream worker owns its partitions with its tables restored (faust_app
# exports it; processes.worker_ready reads it).
WORKER_READY_METRIC = "antenna_worker_ready"


def serve_metrics(host: str, port: int) -> None:
    if port:
        start_http_server(port, addr=host)
