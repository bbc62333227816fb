"""Batches of several records on the embedded broker (Tansu), where its end offsets are
counted per batch (services.common.kafka.known_end).

- Ingest's producer puts concurrent posts into shared batches on signals.raw; the
  processor still reads every one of them, in order per partition, and commits up to the
  true end of each partition.
- The stream workers' producer batches on every topic, the tables' changelogs included:
  a table's recovery reads each changelog up to its true end, from a fetch.

Each test runs its own broker: the assertions are about Tansu, and about whole topics."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from faust.types import TP
from kafka import KafkaConsumer, TopicPartition

from schemas import Signal, topics
from services.common.broker import EmbeddedBroker
from services.common.faust_app import acked_table, fetched_ends, make_faust_app, raw_topic
from services.common.kafka import ensure_topics
from services.ingest.publisher import KafkaSignalPublisher
from services.processor.app import CLASSIFIED_TOPIC
from tests.bench.bench_processor import signals
from tests.support.kafka import broker_settings, true_end_offsets, wait_until_processed
from tests.support.services import Services, service_env

POSTS = 300
WRITES = 25
PROCESSOR_GROUP = "antenna-processor"
JUDGED_TOPICS = (topics.ROUTED_SERVICEDESK, topics.ROUTED_CRM, topics.TRIAGE, topics.DUPLICATES)


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[str]:
    with EmbeddedBroker(tmp_path / "broker.log") as embedded:
        ensure_topics(broker_settings(embedded.bootstrap, topic_partitions=3))
        yield embedded.bootstrap


def read_whole(bootstrap: str, topic: str) -> dict[int, list[Any]]:
    """Every record of ``topic`` up to its true end, by partition, in offset order."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    try:
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic)]
        end = true_end_offsets(consumer, partitions)
        consumer.seek_to_beginning()
        found: dict[int, list[Any]] = defaultdict(list)
        while any(consumer.position(tp) < end[tp] for tp in partitions):
            for tp, records in consumer.poll(timeout_ms=500).items():
                found[tp.partition].extend(r for r in records if r.offset < end[tp])
        return found
    finally:
        consumer.close()


def listed_ends(bootstrap: str, topic: str) -> dict[int, int]:
    """What the broker answers to ListOffsets (latest) for each partition."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    try:
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic)]
        return {tp.partition: end for tp, end in consumer.end_offsets(partitions).items()}
    finally:
        consumer.close()


async def post_concurrently(bootstrap: str, batch: list[Signal]) -> float:
    """Publish ``batch`` as concurrent posts do (send order = list order); return the
    producer's records per produce request."""
    publisher = KafkaSignalPublisher([bootstrap], 10.0, {}, linger_ms=20)
    try:
        await publisher.publish(batch[0])  # connected, and the topic's partitions known
        await asyncio.gather(*(publisher.publish(signal) for signal in batch[1:]))
        metrics = publisher._producer.metrics()  # type: ignore[union-attr]
        return float(metrics["producer-metrics"]["records-per-request-avg"])
    finally:
        publisher.close()


def test_ingest_batches_on_signals_raw_are_all_read_in_order(broker: str, tmp_path: Path) -> None:
    batch = signals(POSTS)
    sent_order = [s.signal_id for s in batch]
    assert asyncio.run(post_concurrently(broker, batch)) > 2, "posts did not share requests"

    raw = read_whole(broker, topics.RAW)
    assert sorted(r.key.decode() for rs in raw.values() for r in rs) == sorted(sent_order)
    for partition, records in raw.items():
        ids = [r.key.decode() for r in records]
        assert [r.offset for r in records] == list(range(len(records)))
        assert ids == [i for i in sent_order if i in set(ids)], f"order of partition {partition}"
    # The probe that these were batches: Tansu lists a shorter end than it holds.
    assert any(listed_ends(broker, topics.RAW)[p] < len(rs) for p, rs in raw.items())

    services = Services(service_env(broker, tmp_path), tmp_path)
    services.start("processor")
    try:
        # The processor's group commits up to the true end of each raw partition ...
        wait_until_processed(broker, [(PROCESSOR_GROUP, topics.RAW)], timeout_s=120)
        wait_until_processed(broker, [(PROCESSOR_GROUP, CLASSIFIED_TOPIC)], timeout_s=120)
    finally:
        services.stop()
    # ... having classified every signal once, each raw partition in its order ...
    handed_over = read_whole(broker, CLASSIFIED_TOPIC).values()
    classified = [r.key.decode() for records in handed_over for r in records]
    assert sorted(classified) == sorted(sent_order)
    for partition, records in raw.items():
        ids = [r.key.decode() for r in records]
        assert [i for i in classified if i in set(ids)] == ids, f"order of partition {partition}"
    # ... and judged every one of them.
    judged = [r for topic in JUDGED_TOPICS for rs in read_whole(broker, topic).values() for r in rs]
    assert len(judged) == POSTS


async def write_both(bootstrap: str, var_dir: Path) -> tuple[str, str]:
    """WRITES table writes and WRITES records on another topic, all sent at once."""
    # A linger, so that the other topic's records share batches however slowly this
    # loop runs on a loaded machine (without it, each send may leave in its own batch).
    app = make_faust_app(
        "batch-probe", broker_settings(bootstrap, var_dir=var_dir), producer_linger=0.5
    )
    table = acked_table(app, "memory", partitions=1)
    out = raw_topic(app, "batch-probe-out", partitions=1)
    await app.producer.start()
    try:
        await table.changelog_topic.maybe_declare()
        await out.maybe_declare()
        sent = [await out.send(key=b"k", value=str(i).encode()) for i in range(WRITES)]
        for i in range(WRITES):
            table.send_changelog(0, f"key-{i}", {"value": i})
        await table.written()
        await asyncio.gather(*sent)
        return table.changelog_topic.get_topic_name(), "batch-probe-out"
    finally:
        await app.producer.stop()


def test_changelogs_batch_and_a_recovery_reads_their_true_end(broker: str, tmp_path: Path) -> None:
    changelog, other = asyncio.run(write_both(broker, tmp_path))
    # Several records per batch on the changelog too: Tansu lists less than it holds ...
    assert listed_ends(broker, changelog)[0] < WRITES
    assert listed_ends(broker, other)[0] < WRITES
    assert [int(r.value) for r in read_whole(broker, other)[0]] == list(range(WRITES))
    # ... and what a table's recovery is told is the true end (faust_app._Consumer).
    settings = broker_settings(broker, var_dir=tmp_path)
    ends = fetched_ends([broker], settings.kafka_client_options(), [TP(changelog, 0)])
    assert ends == {TP(changelog, 0): WRITES}
