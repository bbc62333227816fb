"""AckedTable's bookkeeping of changelog writes the broker refused. The broker's side,
that written() returns only once every write is stored, is tested on the real broker in
tests/integration/test_acked_table.py."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import faust
import pytest
from aiokafka.errors import KafkaTimeoutError

from services.common.faust_app import AckedTable, acked_table, make_faust_app
from services.common.settings import CommonSettings


class Changelog:
    """Stands in for Faust's send to the changelog topic: records each write, and fails
    the ones it is told to."""

    def __init__(self) -> None:
        self.sent: list[tuple[Any, Any]] = []
        self.refuse: set[int] = set()  # numbers of the writes to fail

    def send(self, partition: int | None, key: Any, value: Any, **kw: Any) -> asyncio.Future[None]:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if len(self.sent) in self.refuse:
            future.set_exception(KafkaTimeoutError())
        else:
            future.set_result(None)
        self.sent.append((key, value))
        return future


@pytest.fixture
def changelog(monkeypatch: pytest.MonkeyPatch) -> Changelog:
    log = Changelog()
    monkeypatch.setattr(faust.Table, "send_changelog", lambda _table, *a, **kw: log.send(*a, **kw))
    return log


@pytest.fixture
def table(tmp_path: Path) -> AckedTable:
    app = make_faust_app("acked-unit", CommonSettings(var_dir=tmp_path))
    return acked_table(app, "memory", partitions=1)


def test_a_refused_write_raises_and_the_next_wait_writes_the_current_value_again(
    table: AckedTable, changelog: Changelog
) -> None:
    async def scenario() -> None:
        changelog.refuse = {0}
        table.data["case"] = {"reporters_count": 2}
        table.send_changelog(0, "case", {"reporters_count": 1})  # refused
        table.send_changelog(0, "case", {"reporters_count": 2})
        table.send_changelog(0, "gone", {"x": 1})
        with pytest.raises(KafkaTimeoutError):
            await table.written()
        await table.written()  # the retry: the value now in the table, not the refused one

    asyncio.run(scenario())
    assert changelog.sent[3:] == [("case", {"reporters_count": 2})]


def test_a_refused_delete_is_sent_again_as_a_delete(
    table: AckedTable, changelog: Changelog
) -> None:
    async def scenario() -> None:
        changelog.refuse = {0}
        table.send_changelog(0, "forgotten", None, value_serializer="raw")
        with pytest.raises(KafkaTimeoutError):
            await table.written()
        await table.written()
        await table.written()  # nothing left to write

    asyncio.run(scenario())
    assert changelog.sent == [("forgotten", None), ("forgotten", None)]


def test_a_wait_that_overlaps_an_earlier_one_also_waits_for_the_writes_that_one_took(
    table: AckedTable, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The judge stage waits for the dedupe memory of one signal while it judges the
    next: a second wait, with no write of its own left, must not return before the
    first wait's writes are acknowledged."""
    acks: list[asyncio.Future[None]] = []

    def send(_table: Any, *args: Any, **kwargs: Any) -> asyncio.Future[None]:
        acks.append(asyncio.get_running_loop().create_future())
        return acks[-1]

    monkeypatch.setattr(faust.Table, "send_changelog", send)

    async def scenario() -> None:
        table.send_changelog(0, "first", {"x": 1})
        table.send_changelog(0, "second", {"x": 2})
        first = asyncio.ensure_future(table.written())  # takes both writes
        await asyncio.sleep(0)
        second = asyncio.ensure_future(table.written())  # nothing of its own left
        await asyncio.sleep(0)
        assert not second.done()
        acks[0].set_result(None)
        acks[1].set_result(None)
        await asyncio.gather(first, second)

    asyncio.run(scenario())


@pytest.fixture
def coalesced(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AckedTable:
    app = make_faust_app("acked-unit-coalesced", CommonSettings(var_dir=tmp_path))
    table = acked_table(app, "memory", partitions=1, coalesce=True)
    # Outside a stream there is no current event to take the partition from.
    monkeypatch.setattr(table, "partition_for_key", lambda key: 0)
    return table


def test_a_coalesced_table_sends_each_key_once_per_wait_with_its_latest_value(
    coalesced: AckedTable, changelog: Changelog
) -> None:
    async def scenario() -> None:
        coalesced["case"] = {"reporters_count": 1}
        coalesced["index"] = ["case"]
        coalesced["case"] = {"reporters_count": 2}
        assert coalesced["case"] == {"reporters_count": 2}  # reads see the writes at once
        assert changelog.sent == []  # nothing is sent before the wait
        await coalesced.written()
        coalesced["case"] = {"reporters_count": 3}
        await coalesced.written()
        await coalesced.written()  # nothing left to write

    asyncio.run(scenario())
    assert changelog.sent == [
        ("case", {"reporters_count": 2}),
        ("index", ["case"]),
        ("case", {"reporters_count": 3}),
    ]


def test_a_coalesced_key_written_then_deleted_is_sent_as_a_delete(
    coalesced: AckedTable, changelog: Changelog
) -> None:
    async def scenario() -> None:
        coalesced["gone"] = {"x": 1}
        del coalesced["gone"]
        await coalesced.written()

    asyncio.run(scenario())
    assert changelog.sent == [("gone", None)]


def test_a_coalesced_write_refused_is_sent_again_with_the_value_of_the_retry(
    coalesced: AckedTable, changelog: Changelog
) -> None:
    async def scenario() -> None:
        changelog.refuse = {0}
        coalesced["case"] = {"reporters_count": 1}
        with pytest.raises(KafkaTimeoutError):
            await coalesced.written()
        coalesced["case"] = {"reporters_count": 2}
        await coalesced.written()  # the failed key and the new write: sent once

    asyncio.run(scenario())
    assert changelog.sent == [("case", {"reporters_count": 1}), ("case", {"reporters_count": 2})]
