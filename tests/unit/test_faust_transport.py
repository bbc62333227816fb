"""The stream workers' Kafka clients as make_faust_app builds them: the fetch wait for the
embedded broker (Faust itself fixes it at 1.5 s), and the true ends of changelogs for a
table's recovery where the broker lists ends per batch. On the broker:
tests/integration/test_embedded_batches.py."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP

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


@pytest.mark.parametrize("per_batch", [True, False])
def test_recovery_reads_the_true_ends_of_changelogs_only_where_ends_are_listed_per_batch(
    tmp_path: Path, per_batch: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = broker_settings(
        "127.0.0.1:1", var_dir=tmp_path, kafka_listed_ends_per_batch=per_batch
    )
    app = make_faust_app("transport-test", settings)
    table = acked_table(app, "memory", partitions=1)
    changelog, other = TP(table.changelog_topic.get_topic_name(), 0), TP("signals.raw", 0)
    assert (app.true_ends is not None) is per_batch  # type: ignore[attr-defined]
    fetched: list[TP] = []

    def true_ends(tps: list[TP]) -> dict[TP, int]:  # what a fetch would tell
        fetched.extend(tps)
        return {tp: 25 for tp in tps}

    async def listed(self: Any, *tps: TP) -> dict[TP, int]:  # Tansu: short, per batch
        return {tp: 3 for tp in tps}

    if per_batch:
        app.true_ends = true_ends  # type: ignore[attr-defined]
    monkeypatch.setattr(faust_aiokafka.Consumer, "highwaters", listed)

    async def ends() -> Any:
        return await app.consumer.highwaters(changelog, other)

    expected = {changelog: 25 if per_batch else 3, other: 3}
    assert asyncio.run(ends()) == expected
    assert fetched == ([changelog] if per_batch else [])
