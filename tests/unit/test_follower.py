"""Reading a whole topic without a consumer group: knowing when the start is read."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

from services.common.follower import TopicFollower

TOPIC = "employees.preferences"


@dataclass(frozen=True)
class Record:
    offset: int
    key: bytes
    value: bytes


class OnePartition:
    """kafka-python's KafkaConsumer, as far as the follower uses it. The log starts at
    offset 3 and has a gap (compaction): what was there at start ends at offset 8."""

    def __init__(self, records: list[Record]) -> None:
        self.records = records
        self.next = 0
        self.polled = threading.Event()

    def partitions_for_topic(self, topic: str) -> set[int]:
        return {0}

    def assign(self, partitions: list[Any]) -> None:
        self.tp = partitions[0]

    def seek_to_beginning(self, *partitions: Any) -> None:
        self.next = 3

    def seek(self, tp: Any, offset: int) -> None:
        self.next = offset

    def end_offsets(self, partitions: list[Any]) -> dict[Any, int]:
        return {self.tp: 8}

    def poll(self, timeout_ms: int) -> dict[Any, list[Record]]:
        batch = [r for r in self.records if r.offset >= self.next][:1]
        if batch:
            self.next = batch[0].offset + 1
        elif self.records and self.next < 8:
            self.next = 8  # past the compacted tail: nothing left to return
        self.polled.set()
        return {self.tp: batch} if batch else {}

    def position(self, tp: Any) -> int:
        return self.next

    def close(self) -> None:
        pass


def follow(consumer: OnePartition, seen: list[bytes], caught_up: bool) -> TopicFollower:
    def apply(topic: str, record: Any) -> bool:
        seen.append(record.key)
        return record.value != b"garbage"

    return TopicFollower(
        [],
        [TOPIC],
        apply,
        name="test-follower",
        client_id="test",
        poll_timeout_s=0.01,
        consumer_factory=lambda: consumer,
        report_caught_up=caught_up,
    )


def test_caught_up_once_the_start_is_read_even_past_a_compacted_tail() -> None:
    records = [Record(3, b"a", b"1"), Record(5, b"b", b"garbage")]  # 6 and 7 compacted away
    seen: list[bytes] = []
    follower = follow(OnePartition(records), seen, caught_up=True)
    follower.start()
    try:
        assert follower.caught_up.wait(timeout=10)
        assert seen == [b"a", b"b"]
        assert (follower.records_applied, follower.records_skipped) == (1, 1)
        records.append(Record(8, b"c", b"2"))  # written later: read all the same
        deadline = time.monotonic() + 10
        while b"c" not in seen:
            assert time.monotonic() < deadline, "a later record was not read"
            time.sleep(0.01)
    finally:
        follower.close()


def test_without_asking_nothing_is_reported() -> None:
    consumer = OnePartition([Record(3, b"a", b"1")])
    follower = follow(consumer, [], caught_up=False)
    follower.start()
    try:
        assert consumer.polled.wait(timeout=10)
        assert not follower.caught_up.wait(timeout=0.2)
    finally:
        follower.close()


class Pauses(threading.Event):
    """The follower's stop event, noting how long it was asked to wait each time."""

    def __init__(self) -> None:
        super().__init__()
        self.waits: list[float] = []

    def wait(self, timeout: float | None = None) -> bool:
        self.waits.append(timeout or 0.0)
        return self.is_set()


def test_a_paced_follower_pauses_after_records_not_when_idle() -> None:
    """Under load one fetch round per pace_s carries many records instead of a few;
    an idle follower (nothing polled) is not held back."""
    records = [Record(3, b"a", b"1"), Record(4, b"b", b"2")]
    consumer = OnePartition(records)
    follower = TopicFollower(
        [],
        [TOPIC],
        lambda topic, record: True,
        name="paced",
        client_id="test",
        consumer_factory=lambda: consumer,
        pace_s=0.25,
    )
    pauses = Pauses()
    follower._stop = pauses
    polls = 0
    poll = consumer.poll

    def counted(timeout_ms: int) -> dict[Any, list[Record]]:
        nonlocal polls
        polls += 1
        if polls == 4:  # two with a record each, one idle, then stop
            pauses.set()
        return poll(timeout_ms)

    consumer.poll = counted  # type: ignore[method-assign]
    follower._follow(consumer)
    assert follower.records_applied == 2
    assert len(pauses.waits) == 2  # after each poll that brought a record, not after the idle one
    assert all(0 < wait <= 0.25 for wait in pauses.waits)


def test_a_paced_follower_asks_a_waiting_broker_no_more_often_than_its_pace(
    monkeypatch,
) -> None:
    import kafka

    made: list[dict[str, Any]] = []
    monkeypatch.setattr(kafka, "KafkaConsumer", lambda **options: made.append(options))
    monkeypatch.setenv("ANTENNA_KAFKA_FETCH_MAX_WAIT_MS", "50")  # the embedded broker's
    for pace_s in (0.0, 0.1, 0.01):
        TopicFollower(
            ["127.0.0.1:1"], [TOPIC], lambda t, r: True, name="n", client_id="c", pace_s=pace_s
        )._default_consumer()
    assert [options["fetch_max_wait_ms"] for options in made] == [50, 100, 50]
    monkeypatch.delenv("ANTENNA_KAFKA_FETCH_MAX_WAIT_MS")  # Kafka: the client's default
    TopicFollower(
        ["127.0.0.1:1"], [TOPIC], lambda t, r: True, name="n", client_id="c", pace_s=0.1
    )._default_consumer()
    assert "fetch_max_wait_ms" not in made[-1]
