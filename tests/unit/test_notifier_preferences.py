"""Opting out: the preference records, the check, and reading the topic."""

from __future__ import annotations

import asyncio
import threading
from collections import namedtuple
from datetime import UTC, datetime
from typing import Any

from schemas import NotificationPreference, Reporter
from services.notifier.preferences import PreferenceBook, PreferenceFollower, wants_news

TOPIC = "employees.preferences"
Record = namedtuple("Record", "key value offset")


def preference(employee: str, notify: bool) -> bytes:
    value = NotificationPreference(
        employee_id=employee, notify=notify, updated_at=datetime(2025, 3, 14, tzinfo=UTC)
    )
    return value.model_dump_json().encode()


def test_no_preference_means_yes() -> None:
    assert wants_news({}, Reporter(employee_id="E-1", email="e1@bank.example"))


def test_an_opt_out_under_the_employee_id_or_the_address_means_no() -> None:
    book = PreferenceBook()
    assert book.apply(b"E-1", preference("E-1", notify=False))
    assert book.apply(b"Sanne@Bank.Example", preference("sanne@bank.example", notify=False))
    assert not wants_news(book.notify, Reporter(employee_id="E-1"))
    assert not wants_news(book.notify, Reporter(email="SANNE@bank.example"))
    assert wants_news(book.notify, Reporter(employee_id="E-2", email="other@bank.example"))
    assert book.opted_out == 2


def test_the_latest_record_wins_and_a_tombstone_restores_the_default() -> None:
    book = PreferenceBook()
    book.apply(b"E-1", preference("E-1", notify=False))
    book.apply(b"E-1", preference("E-1", notify=True))
    assert wants_news(book.notify, Reporter(employee_id="E-1"))
    book.apply(b"E-1", preference("E-1", notify=False))
    assert book.apply(b"E-1", None)
    assert wants_news(book.notify, Reporter(employee_id="E-1"))


def test_unreadable_records_are_skipped() -> None:
    book = PreferenceBook()
    assert not book.apply(b"E-1", b"not json")
    assert not book.apply(None, preference("E-1", notify=False))
    assert not book.apply(b"E-2", preference("E-1", notify=False))  # key is not its employee
    assert not book.apply(b"\xff", None)
    assert book.notify == {}


class FakeConsumer:
    """kafka-python's KafkaConsumer, as far as the follower uses it: one partition."""

    def __init__(self, records: list[Record]) -> None:
        self.records = records
        self.position_ = 0
        self.polled = threading.Event()

    def partitions_for_topic(self, topic: str) -> set[int]:
        return {0}

    def assign(self, partitions: list[Any]) -> None:
        self.tp = partitions[0]

    def seek_to_beginning(self, *partitions: Any) -> None:
        self.position_ = 0

    def seek(self, tp: Any, offset: int) -> None:
        self.position_ = offset

    def end_offsets(self, partitions: list[Any]) -> dict[Any, int]:
        return {self.tp: 2}  # two records at start; a third comes later

    def poll(self, timeout_ms: int) -> dict[Any, list[Record]]:
        self.polled.set()
        batch = self.records[self.position_ : self.position_ + 1]
        self.position_ += len(batch)
        return {self.tp: batch} if batch else {}

    def position(self, tp: Any) -> int:
        return self.position_

    def close(self) -> None:
        pass


def test_the_follower_says_loaded_once_it_read_what_the_topic_held() -> None:
    records = [
        Record(b"E-1", preference("E-1", notify=False), 0),
        Record(b"E-2", b"garbage", 1),
    ]
    consumer = FakeConsumer(records)
    book = PreferenceBook()

    async def run() -> None:
        follower = PreferenceFollower(book, [], TOPIC, consumer_factory=lambda: consumer)
        follower.start()
        try:
            await asyncio.wait_for(follower.loaded(), timeout=10)
            assert book.notify == {"E-1": False}  # both read before "loaded"
            records.append(Record(b"E-3", preference("E-3", notify=False), 2))
            await asyncio.wait_for(_until(lambda: "E-3" in book.notify), timeout=10)
        finally:
            follower.close()

    asyncio.run(run())


async def _until(condition: Any) -> None:
    while not condition():
        await asyncio.sleep(0.01)
