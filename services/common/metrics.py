"""Serve a service's Prometheus metrics. Labels carry identifiers of code paths
(channel, kind, destination, status), never personal data."""

from __future__ import annotations

from prometheus_client import Counter, start_http_server

# 1 while a stream worker owns its partitions with its tables restored (faust_app
# exports it; processes.worker_ready reads it).
WORKER_READY_METRIC = "antenna_worker_ready"

# Exported by every process that publishes outcomes: the connectors (pollers, HubSpot
# lookups) and ingest (Zendesk and Jira webhooks). Sum them across jobs.
OUTCOMES_PUBLISHED = Counter(
    "antenna_outcomes_published_total",
    "Outcomes published on signals.outcomes",
    ["destination", "connector", "status"],
)


def serve_metrics(host: str, port: int) -> None:
    if port:
        start_http_server(port, addr=host)
