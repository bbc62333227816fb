"""Faust configuration shared by the stream processors (processor, connectors)."""

from __future__ import annotations

import asyncio
from typing import Any, cast

import faust
from faust.types import AppT, FutureMessage
from prometheus_client import Counter, Gauge

from services.common.kafka import ensure_topics, wait_for_broker
from services.common.logging import configure
from services.common.metrics import WORKER_READY_METRIC, serve_metrics
from services.common.settings import CommonSettings

WORKER_READY = Gauge(
    WORKER_READY_METRIC,
    "1 while the worker owns its partitions with its tables restored; 0 while it starts, "
    "rebalances or restores",
    ["app"],
)
REBALANCES = Counter(
    "antenna_worker_rebalances",
    "Rebalances the worker went through to the end (tables restored, processing again)",
    ["app"],
)


class ReadinessSensor(faust.Sensor):
    """Exports whether the worker is processing: a worker stuck in a rebalance or in
    table recovery is alive but does nothing, and only this gauge shows it."""

    def on_rebalance_start(self, app: AppT) -> dict[str, Any]:
        WORKER_READY.labels(app.conf.id).set(0)
        return dict(super().on_rebalance_start(app))

    def on_rebalance_end(self, app: AppT, state: dict[str, Any]) -> None:
        WORKER_READY.labels(app.conf.id).set(1)
        REBALANCES.labels(app.conf.id).inc()


def make_faust_app(app_id: str, settings: CommonSettings, **overrides: Any) -> faust.App:
    datadir = (settings.var_dir / "faust" / app_id).resolve()
    datadir.parent.mkdir(parents=True, exist_ok=True)
    options: dict[str, Any] = dict(
        broker=[f"kafka://{server}" for server in settings.bootstrap_list],
        store="memory://",  # tables are rebuilt from their changelog topics on start
        web_enabled=False,  # metrics are served by prometheus-client instead
        producer_acks=-1,
        # aiokafka's idempotent producer fails on Tansu: at-least-once + idempotent sinks.
        processing_guarantee="at_least_once",
        consumer_auto_offset_reset="earliest",
        broker_session_timeout=settings.kafka_session_timeout_s,
        broker_heartbeat_interval=max(1.0, settings.kafka_session_timeout_s / 5),
        producer_max_batch_size=settings.kafka_producer_max_batch_bytes,
        topic_partitions=settings.topic_partitions,
        topic_replication_factor=1,
        datadir=str(datadir),
    )
    options.update(overrides)
    app = faust.App(app_id, **options)
    WORKER_READY.labels(app_id).set(0)
    app.sensors.add(ReadinessSensor())
    return app


class AckedTable(faust.Table[str, Any]):
    """A changelog-backed table whose writes an agent can wait for.

    Faust hands changelog records to a buffer, and before it commits input offsets it
    flushes that buffer with a wait that gives up after 0.1 s (faust 0.15.3,
    ProducerBuffer.flush_atmost). On a slow broker, or when the worker stops, the last
    writes can be lost while their input counts as processed. Agents that must not
    lose state call ``await table.written()`` before they hand an event on."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._unacked: set[FutureMessage] = set()

    def send_changelog(self, *args: Any, **kwargs: Any) -> FutureMessage:
        sent = super().send_changelog(*args, **kwargs)
        self._unacked.add(sent)
        return sent

    async def written(self) -> None:
        """Return once the broker has acknowledged every write made so far."""
        pending, self._unacked = self._unacked, set()
        if pending:
            await asyncio.gather(*pending)


def acked_table(app: faust.App, name: str, partitions: int) -> AckedTable:
    table = AckedTable(
        app, name=name, default=None, partitions=partitions, beacon=app.tables.beacon
    )
    return cast(AckedTable, app.tables.add(table))


def raw_topic(app: faust.App, name: str, **kwargs: Any) -> faust.TopicT:
    """A topic of plain bytes: decoding is ours, so a poison message reaches the DLQ
    instead of crashing the agent inside Faust's deserializer."""
    return app.topic(
        name,
        key_type=bytes,
        value_type=bytes,
        key_serializer="raw",
        value_serializer="raw",
        **kwargs,
    )


def run_worker(
    app: faust.App, settings: CommonSettings, metrics_host: str, metrics_port: int
) -> None:
    """Prestart (wait for the broker, create the topics), serve metrics, run the worker
    until SIGTERM/SIGINT. Faust's worker stops its agents cleanly on either signal."""
    wait_for_broker(settings.bootstrap_list, timeout_s=60)
    ensure_topics(settings.bootstrap_list, settings.topic_partitions)
    serve_metrics(metrics_host, metrics_port)
    configure(app.conf.id, settings.log_level)
    faust.Worker(
        app, loglevel=settings.log_level, quiet=True, override_logging=False
    ).execute_from_commandline()
