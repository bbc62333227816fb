"""Kafka helpers shared by the services and the CLI (kafka-python, blocking calls).

Every kafka-python client takes the deployment's security options
(``CommonSettings.kafka_client_options()``): build new clients the same way."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping
from typing import Any

from kafka import KafkaAdminClient
from kafka.admin import ConfigResource, ConfigResourceType, NewTopic
from kafka.errors import KafkaError, TopicAlreadyExistsError

from schemas import topics
from services.common.settings import CommonSettings

log = logging.getLogger(__name__)

RETENTION_MS = "retention.ms"
MIN_INSYNC_REPLICAS = "min.insync.replicas"
CLEANUP_POLICY = "cleanup.policy"
SEGMENT_MS = "segment.ms"
# insight.summary gets a new snapshot every half minute while signals come in, and
# compaction never touches the active segment: roll it hourly so old snapshots go.
INSIGHT_SEGMENT_MS = str(3_600_000)


class BrokerUnavailable(RuntimeError):
    """The broker did not answer in time."""


def known_end(consumer: Any, tp: Any, listed: int) -> int:
    """Where partition ``tp`` ends, as far as a kafka-python ``consumer`` that read from it
    knows: ``listed`` (from ``end_offsets``), or the high watermark of its last fetch when
    that is further. Tansu 0.6 lists the first offset of a partition's last batch plus one,
    short of the end when that batch holds several records; its fetches tell the truth."""
    return max(listed, consumer.highwater(tp) or 0)


def _admin(
    bootstrap: list[str], timeout_s: float, client_options: Mapping[str, Any]
) -> KafkaAdminClient:
    ms = max(int(timeout_s * 1000), 500)
    return KafkaAdminClient(
        bootstrap_servers=bootstrap,
        client_id="antenna-admin",
        request_timeout_ms=ms,
        bootstrap_timeout_ms=ms,
        **client_options,
    )


def broker_reachable(
    bootstrap: list[str], timeout_s: float = 2.0, *, client_options: Mapping[str, Any]
) -> bool:
    """True when a broker answers the Kafka protocol (not just an open TCP port)."""
    try:
        _admin(bootstrap, timeout_s, client_options).close()
    except (KafkaError, OSError, ValueError):
        return False
    return True


def wait_for_broker(
    bootstrap: list[str], timeout_s: float = 30.0, *, client_options: Mapping[str, Any]
) -> None:
    """Prestart step: block until the broker answers, or raise BrokerUnavailable."""
    deadline = time.monotonic() + timeout_s
    while not broker_reachable(bootstrap, timeout_s=2.0, client_options=client_options):
        if time.monotonic() > deadline:
            protocol = client_options.get("security_protocol", "PLAINTEXT")
            hint = "" if protocol == "PLAINTEXT" else " (see the log for a TLS or SASL error)"
            raise BrokerUnavailable(
                f"no Kafka broker answered at {','.join(bootstrap)} over {protocol}{hint}"
            )
        time.sleep(0.5)


def topic_config(settings: CommonSettings, name: str) -> dict[str, str]:
    """The configuration a topic is created with: writes need ``min.insync.replicas``
    copies, the dead letters stay for ``dlq_retention_days``, and the compacted topics
    (employees' preferences) keep their latest record per key."""
    config = {MIN_INSYNC_REPLICAS: str(settings.min_insync_replicas)}
    if name == topics.DLQ:
        config[RETENTION_MS] = str(settings.dlq_retention_ms)
    if name in topics.COMPACTED:
        config[CLEANUP_POLICY] = "compact"  # the latest record per key, kept for good
    if name == topics.INSIGHT:
        config[SEGMENT_MS] = INSIGHT_SEGMENT_MS
    return config


def ensure_topics(settings: CommonSettings, names: Iterable[str] = topics.ALL) -> list[str]:
    """Create the topics that do not exist yet, with the replication factor and
    configuration of ``settings``; bring an existing signals.dlq's retention to the
    setting. Return the topics created."""
    admin = _admin(settings.bootstrap_list, 10.0, settings.kafka_client_options())
    try:
        existing = set(admin.list_topics())
        wanted = list(names)
        created = []
        for name in wanted:
            if name in existing:
                continue
            spec = NewTopic(
                name,
                settings.topic_partitions,
                settings.kafka_replication_factor,
                topic_configs=topic_config(settings, name),
            )
            try:
                admin.create_topics([spec])
                created.append(name)
            except TopicAlreadyExistsError:  # another service won the race
                pass
        if topics.DLQ in wanted and topics.DLQ not in created:
            align_retention(admin, topics.DLQ, settings.dlq_retention_ms)
        return created
    finally:
        admin.close()


def align_retention(admin: KafkaAdminClient, name: str, retention_ms: int) -> None:
    """The setting is the source of truth: changing it must reach a topic created
    earlier. A broker that reports no retention (Tansu) or refuses the change
    (no AlterConfigs permission) is logged, never fatal."""
    resource = ConfigResource(ConfigResourceType.TOPIC, name, configs={RETENTION_MS: None})
    try:
        described = admin.describe_configs([resource], config_filter="all")
        current = described["topic"][name].get(RETENTION_MS)
        value = current.get("value") if isinstance(current, Mapping) else current
        if value is None or str(value) == str(retention_ms):
            return
        admin.alter_configs(
            [ConfigResource(ConfigResourceType.TOPIC, name, configs={RETENTION_MS: retention_ms})]
        )
        log.info(
            "%s: retention.ms %s -> %s (ANTENNA_DLQ_RETENTION_DAYS)", name, value, retention_ms
        )
    except (KafkaError, KeyError, ValueError) as exc:
        log.warning(
            "%s: could not check or set retention.ms=%s (%s); set it on the topic yourself",
            name,
            retention_ms,
            type(exc).__name__,
        )


def describe_topics(bootstrap: list[str], *, client_options: Mapping[str, Any]) -> dict[str, int]:
    """Topic name -> partition count, for `antenna topics`."""
    admin = _admin(bootstrap, 10.0, client_options)
    try:
        described = admin.describe_topics()
        return {t["name"]: len(t["partitions"]) for t in described}
    finally:
        admin.close()
