"""Read and write topics directly, as a downstream team would (no consumer group)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from kafka import KafkaConsumer, KafkaProducer, TopicPartition


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


def records_to_end(bootstrap: str, topic: str, timeout_s: float = 30) -> list[Any]:
    """Every record of ``topic``, up to its end offsets at call time."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    try:
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        consumer.assign(partitions)
        consumer.seek_to_beginning()
        end = consumer.end_offsets(partitions)
        found: list[Any] = []
        deadline = time.monotonic() + timeout_s
        while any(consumer.position(tp) < end[tp] for tp in partitions):
            assert time.monotonic() < deadline, f"could not read {topic} to its end"
            for tp, records in consumer.poll(timeout_ms=500).items():
                found.extend(r for r in records if r.offset < end[tp])
        return found
    finally:
        consumer.close()
