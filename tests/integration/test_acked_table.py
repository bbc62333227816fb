"""AckedTable on the real broker: `written()` returns only once every write is stored."""

from __future__ import annotations

import asyncio
from pathlib import Path

from kafka import KafkaConsumer, TopicPartition
from ulid import ULID

from services.common.faust_app import acked_table, make_faust_app
from tests.support.kafka import broker_settings, true_end_offsets

WRITES = 25


def stored_records(bootstrap: str, topic: str) -> int:
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    try:
        partition = TopicPartition(topic, 0)
        return true_end_offsets(consumer, [partition])[partition]
    finally:
        consumer.close()


async def write_then_count(bootstrap: str, var_dir: Path) -> int:
    settings = broker_settings(bootstrap, var_dir=var_dir)
    app = make_faust_app(f"acked-table-test-{ULID()}", settings)
    table = acked_table(app, "memory", partitions=1)
    await app.producer.start()
    try:
        await table.changelog_topic.maybe_declare()
        for i in range(WRITES):
            table.send_changelog(0, f"key-{i}", {"value": i})
        await table.written()
        # A blocking read: the event loop cannot send anything more meanwhile, so only
        # what `written()` waited for can be on the broker.
        return stored_records(bootstrap, table.changelog_topic.get_topic_name())
    finally:
        await app.producer.stop()


def test_written_returns_once_the_broker_holds_every_write(kafka: str, tmp_path: Path) -> None:
    assert asyncio.run(write_then_count(kafka, tmp_path)) == WRITES
