"""Serve a service's Prometheus metrics. Labels carry identifiers of code paths
(channel, kind, destination, status), never personal data."""

from __future__ import annotations

from prometheus_client import start_http_server


def serve_metrics(host: str, port: int) -> None:
    if port:
        start_http_server(port, addr=host)
