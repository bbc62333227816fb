"""Faust configuration shared by the stream processors (processor, connectors)."""

from __future__ import annotations

from typing import Any

import faust

from services.common.kafka import ensure_topics, wait_for_broker
from services.common.logging import configure
from services.common.metrics import serve_metrics
from services.common.settings import CommonSettings


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
    return faust.App(app_id, **options)


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
