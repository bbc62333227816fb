"""Read and write topics directly, as a downstream team would (no consumer group).

The broker is shared by the whole session and other tests put anything on its topics,
poison included: readers decode defensively (``json_value``) and pick their own records
by the ids they created."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from typing import Any

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource

from services.common.broker import EMBEDDED_BROKER_ENV
from services.common.faust_app import true_end_offsets as true_end_offsets  # re-exported
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


def json_value(record: Any) -> dict[str, Any] | None:
    """The record's value as a JSON object, or None for anything else (poison)."""
    try:
        value = json.loads(record.value)
    except (TypeError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def json_field(record: Any, *path: str) -> Any:
    """``json_field(r, "metadata", "message_id")``: None wherever the path breaks."""
    value: Any = json_value(record)
    for key in path:
        value = value.get(key) if isinstance(value, dict) else None
    return value


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


def records_until_now(bootstrap: str, topic: str, predicate: Callable[[Any], bool]) -> list[Any]:
    """Every record on ``topic`` up to its end at call time that matches ``predicate``."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    try:
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        consumer.assign(partitions)
        consumer.seek_to_beginning()
        end = true_end_offsets(consumer, partitions)
        consumer.seek_to_beginning()
        found: list[Any] = []
        deadline = time.monotonic() + 30
        while any(consumer.position(tp) < end[tp] for tp in partitions):
            assert time.monotonic() < deadline, f"could not read {topic} to its end"
            for tp, records in consumer.poll(timeout_ms=500).items():
                found.extend(r for r in records if r.offset < end[tp])
        return [r for r in found if predicate(r)]
    finally:
        consumer.close()


def wait_until_processed(
    bootstrap: str, stages: Iterable[tuple[str, str]], timeout_s: float = 60
) -> None:
    """For each (consumer group, topic) in pipeline order: wait until the group has
    committed every record the topic held when its turn came. Consumers commit after
    they handled a record (and sent what it caused), so this proves that nothing more
    will come of those records: the event a test of "it did not happen" waits for."""
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    try:
        deadline = time.monotonic() + timeout_s
        for group, topic in stages:
            partitions = [
                TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()
            ]
            end = true_end_offsets(consumer, partitions)
            while True:
                committed = admin.list_group_offsets({group: partitions})[group]
                behind = {
                    tp: (committed.get(tp), end[tp])
                    for tp in partitions
                    if end[tp] > max(getattr(committed.get(tp), "offset", 0), 0)
                }
                if not behind:
                    break
                assert time.monotonic() < deadline, f"{group} did not get through {topic}: {behind}"
                time.sleep(0.1)
    finally:
        consumer.close()
        admin.close()
