"""Read and write topics directly, as a downstream team would (no consumer group)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource

from services.common.broker import EMBEDDED_BROKER_ENV
from services.common.settings import CommonSettings

# The test broker is a single node (embedded, or a one-node testcontainers Kafka).
_TEST_BROKER_DEFAULTS = {
    name.removeprefix("ANTENNA_").lower(): value for name, value in EMBEDDED_BROKER_ENV.items()
}


class _ExplicitSettings(CommonSettings):
    """CommonSettings from arguments only: never from the shell running the tests."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        **others: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings,)


def broker_settings(bootstrap: str, **overrides: Any) -> CommonSettings:
    """Settings for in-process clients of the test broker (ensure_topics, Faust apps)."""
    values: dict[str, Any] = {**_TEST_BROKER_DEFAULTS, "kafka_bootstrap_servers": bootstrap}
    return _ExplicitSettings(**{**values, **overrides})


def produce(bootstrap: str, topic: str, value: bytes, key: bytes | None = None) -> None:
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
    try:
        producer.send(topic, key=key, value=value).get(timeout=10)
    finally:
        producer.close()


def wait_for_records(
    bootstrap: str,
    topic: str,
    predicate: Callable[[Any], bool],
    count: int = 1,
    timeout_s: float = 60,
) -> list[Any]:
    """Read ``topic`` from the beginning until ``count`` records match ``predicate``."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    try:
        partitions = consumer.partitions_for_topic(topic) or set()
        consumer.assign([TopicPartition(topic, p) for p in partitions])
        consumer.seek_to_beginning()
        found: list[Any] = []
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for records in consumer.poll(timeout_ms=500).values():
                found.extend(r for r in records if predicate(r))
            if len(found) >= count:
                return found
        raise AssertionError(f"{len(found)}/{count} matching records on {topic} after {timeout_s}s")
    finally:
        consumer.close()
