"""services.ingest.partitioner: the same partition as Kafka's default partitioner."""

from __future__ import annotations

import random

import pytest
from kafka.partitioner.default import DefaultPartitioner, murmur2

from schemas import new_signal_id
from services.ingest.partitioner import KeyHashPartitioner
from services.ingest.partitioner import murmur2 as fast_murmur2


class Cluster:
    """What a partitioner reads of kafka-python's ClusterMetadata."""

    def __init__(self, partitions: dict[str, set[int]]) -> None:
        self.partitions = partitions

    def topics(self) -> set[str]:
        return set(self.partitions)

    def partitions_for_topic(self, topic: str) -> set[int] | None:
        return self.partitions.get(topic)

    def available_partitions_for_topic(self, topic: str) -> set[int]:
        return self.partitions.get(topic, set())


def test_murmur2_is_kafka_s_for_every_key_length_and_byte() -> None:
    rng = random.Random(7)
    keys = [rng.randbytes(n) for n in range(70) for _ in range(20)]
    keys += [bytes([b]) * n for b in (0, 0x7F, 0x80, 0xFF) for n in range(1, 9)]
    for key in keys:
        assert fast_murmur2(key) == murmur2(key), key


@pytest.mark.parametrize("count", [1, 2, 3, 7, 12])
def test_a_keyed_record_gets_the_default_partitioner_s_partition(count: int) -> None:
    cluster = Cluster({"signals.raw": set(range(count))})
    ours, kafka = KeyHashPartitioner(), DefaultPartitioner()
    for _ in range(300):
        key = new_signal_id().encode()
        expected = kafka.partition("signals.raw", None, key, None, b"v", cluster)
        assert ours.partition("signals.raw", None, key, None, b"v", cluster) == expected


def test_partitions_are_counted_in_order_when_their_numbers_have_gaps() -> None:
    cluster = Cluster({"t": {9, 2, 5}})
    ours, kafka = KeyHashPartitioner(), DefaultPartitioner()
    for n in range(200):
        key = f"k-{n}".encode()
        assert ours.partition("t", None, key, None, b"", cluster) == kafka.partition(
            "t", None, key, None, b"", cluster
        )


def test_without_a_key_or_a_known_topic_it_does_as_kafka_python_does() -> None:
    cluster = Cluster({"t": {0, 1, 2}})
    assert KeyHashPartitioner().partition("t", None, None, None, b"", cluster) in {0, 1, 2}
    with pytest.raises(ValueError, match="not found"):
        KeyHashPartitioner().partition("other", None, b"k", None, b"", cluster)
