"""The stream workers' Kafka clients as make_faust_app builds them: the fetch wait for the
embedded broker (Faust itself fixes it at 1.5 s), and which topics get one record per
batch. On the broker: tests/integration/test_embedded_batches.py."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from services.common.faust_app import acked_table, make_faust_app
from tests.support.kafka import broker_settings

FAUST_DEFAULT_FETCH_WAIT_MS = 1500


def worker_consumer(tmp_path: Path, **settings: Any) -> Any:
    app = make_faust_app(
        "transport-test", broker_settings("127.0.0.1:1", var_dir=tmp_path, **settings)
    )

    async def create() -> Any:  # aiokafka clients are made inside a running loop
        thread = app.consumer._new_consumer_thread()
        return thread._create_worker_consumer(app.transport)

    return asyncio.run(create())


@pytest.mark.parametrize(("wait_ms", "expected"), [(10, 10), (None, FAUST_DEFAULT_FETCH_WAIT_MS)])
def test_the_fetch_wait_is_the_setting_or_fausts_own(
    tmp_path: Path, wait_ms: int | None, expected: int
) -> None:
    consumer = worker_consumer(tmp_path, kafka_fetch_max_wait_ms=wait_ms)
    assert consumer._fetch_max_wait_ms == expected


@pytest.mark.parametrize("one_record", [True, False])
def test_only_changelogs_get_one_record_batches_and_only_when_asked(
    tmp_path: Path, one_record: bool
) -> None:
    settings = broker_settings(
        "127.0.0.1:1", var_dir=tmp_path, kafka_changelog_one_record_batches=one_record
    )
    app = make_faust_app("transport-test", settings)
    table = acked_table(app, "memory", partitions=1)

    async def create() -> Any:
        return app.producer._new_producer()._message_accumulator

    accumulator = asyncio.run(create())
    expected = {table.changelog_topic.get_topic_name()} if one_record else set()
    assert set(getattr(accumulator, "one_record", ())) == expected
