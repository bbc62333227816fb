"""Serve a service's Prometheus metrics. Labels carry identifiers of code paths
(channel, kind, destination, status), never personal data."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterable
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import REGISTRY, CollectorRegistry, Counter, make_wsgi_app

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

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def workers_ready(registry: CollectorRegistry = REGISTRY) -> bool:
    """True while every stream worker of this process exports antenna_worker_ready 1."""
    values = [
        sample.value
        for family in registry.collect()
        if family.name == WORKER_READY_METRIC
        for sample in family.samples
    ]
    return bool(values) and all(value == 1 for value in values)


def metrics_app(ready: Callable[[], bool]) -> WsgiApp:
    """Metrics on every path, except ``/healthz`` (the process answers) and ``/readyz``
    (200 while ``ready()``, else 503): plain HTTP checks for Kubernetes probes, which can
    test a status code but not a metric's value."""
    metrics = make_wsgi_app(REGISTRY)

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path in ("/healthz", "/readyz"):
            if path == "/readyz" and not ready():
                start_response("503 Service Unavailable", [("Content-Type", "text/plain")])
                return [b"not ready\n"]
            start_response("200 OK", [("Content-Type", "text/plain")])
            return [b"ok\n"]
        result: Iterable[bytes] = metrics(environ, start_response)
        return result

    return app


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _Server6(_Server):
    address_family = socket.AF_INET6


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # probes every few seconds
        pass


def serve_metrics(
    host: str, port: int, ready: Callable[[], bool] = workers_ready
) -> WSGIServer | None:
    """Serve ``metrics_app(ready)`` on a daemon thread; port 0 serves nothing."""
    if not port:
        return None
    server_class = _Server6 if ":" in host else _Server
    httpd = make_server(host, port, metrics_app(ready), server_class, handler_class=_QuietHandler)
    threading.Thread(target=httpd.serve_forever, name="metrics", daemon=True).start()
    return httpd
