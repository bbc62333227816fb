"""one_by_one, the batch handler of stages that handle one event at a time: each event is
Faust's current event while it is handled, so that a table with several partitions
writes each key to its own event's partition; and a partition's events after one let go
are not handled. On the real broker, with the notifier: tests/integration/
test_notifier_workers.py."""

from __future__ import annotations

import asyncio
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import faust
import pytest
from faust.streams import _current_event, current_event
from faust.types import TP

from services.common.faust_app import AckedTable, acked_table, make_faust_app
from services.common.offsets import Taken, one_by_one
from services.common.settings import CommonSettings

TOPIC = "signals.delivered"
PARTITIONS = 3


@dataclass
class Message:
    topic: str
    partition: int
    offset: int

    @property
    def tp(self) -> TP:
        return TP(self.topic, self.partition)


class Event:  # weakly referenced, as Faust's current event is
    def __init__(self, partition: int, offset: int) -> None:
        self.message = Message(TOPIC, partition, offset)
        self.key = f"case-{partition}-{offset}"


class Sent(asyncio.Future[None]):
    """A changelog send, acknowledged; Faust reads the partition off its message."""

    def __init__(self, partition: int | None) -> None:
        super().__init__()
        self.message = Message(TOPIC, partition or 0, 0)


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int | None, Any, Any]]:
    """Faust's sends to the changelog topic, as (partition, key, value)."""
    log: list[tuple[int | None, Any, Any]] = []

    def send(_table: Any, partition: int | None, key: Any, value: Any, **_kw: Any) -> Any:
        log.append((partition, key, value))
        future = Sent(partition)
        future.set_result(None)
        return future

    monkeypatch.setattr(faust.Table, "send_changelog", send)
    return log


def table(tmp_path: Path, coalesce: bool) -> AckedTable:
    app = make_faust_app(f"batch-unit-{coalesce}", CommonSettings(var_dir=tmp_path))
    made = acked_table(app, "cases", partitions=PARTITIONS, coalesce=coalesce)
    made._verified_source_topics_for_partitions.add(TOPIC)  # no broker to ask here
    return made


def mixed_batch() -> list[Taken]:
    """Offsets 10, 11 of each partition, the partitions interleaved."""
    return [Taken(Event(p, o), 0) for o in (10, 11) for p in range(PARTITIONS)]


@pytest.mark.parametrize("coalesce", [False, True])
def test_each_write_and_deletion_of_a_batch_lands_in_its_events_partition(
    tmp_path: Path, sent: list[tuple[int | None, Any, Any]], coalesce: bool
) -> None:
    cases = table(tmp_path, coalesce)
    batch = mixed_batch()
    cases.data["old-case-1"] = {"partition": 1}  # restored: deleted by partition 1's event

    async def handle(event: Any, _taken_in: int) -> bool:
        cases[event.key] = {"partition": event.message.partition}
        if event.message.partition == 1 and event.message.offset == 11:
            del cases["old-case-1"]
        return True

    async def scenario() -> list[bool]:
        # While a batch is handled, the stream's current event is its last one.
        _current_event.set(weakref.ref(batch[-1].event))
        outcomes = await one_by_one(handle)(batch)
        assert current_event() is batch[-1].event  # put back after each event
        await cases.written()
        return list(outcomes)

    assert asyncio.run(scenario()) == [True] * len(batch)
    assert sorted(sent, key=str) == sorted(
        [
            (t.event.message.partition, t.event.key, {"partition": t.event.message.partition})
            for t in batch
        ]
        + [(1, "old-case-1", None)],
        key=str,
    )


def test_without_it_a_batch_writes_everything_to_its_last_events_partition(
    tmp_path: Path, sent: list[tuple[int | None, Any, Any]]
) -> None:
    """Why: Faust reads the partition from the current event (faust-streaming 0.15.3)."""
    cases = table(tmp_path, coalesce=False)
    batch = mixed_batch()

    async def scenario() -> None:
        _current_event.set(weakref.ref(batch[-1].event))
        for taken in batch:
            cases[taken.event.key] = {}

    asyncio.run(scenario())
    assert {partition for partition, _key, _value in sent} == {PARTITIONS - 1}


def test_a_partitions_events_after_one_let_go_are_not_handled_the_others_are() -> None:
    batch = mixed_batch()  # p0@10 p1@10 p2@10 p0@11 p1@11 p2@11
    handled: list[tuple[int, int]] = []

    async def handle(event: Any, _taken_in: int) -> bool:
        handled.append((event.message.partition, event.message.offset))
        return event.message.partition != 1  # partition 1's notice waits: let go

    outcomes = asyncio.run(one_by_one(handle)(batch))
    assert list(outcomes) == [True, False, True, True, False, True]
    assert handled == [(0, 10), (1, 10), (2, 10), (0, 11), (2, 11)]
