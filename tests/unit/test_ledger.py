"""The delivery ledger's entries: replays, restarts, expiry."""

from __future__ import annotations

from schemas import DeliveryStatus
from services.connectors.ledger import (
    Entry,
    delivery_key,
    entry_from,
    entry_value,
    expired_keys,
    resumed,
    should_deliver,
)
from services.connectors.retry import Waiting

DAY = 86400.0
NOW = 1_700_000_000.0


def test_entries_round_trip_through_the_table_value() -> None:
    waiting = Waiting(since=NOW - 60, attempts=7, announced_at=NOW - 30)
    for entry in (
        Entry(DeliveryStatus.delivered, NOW, 2),
        Entry(DeliveryStatus.retrying, NOW, 0, waiting),
    ):
        assert entry_from(entry_value(entry)) == entry


def test_older_bare_status_values_and_garbage_are_read() -> None:
    assert entry_from("delivered") == Entry(DeliveryStatus.delivered, at=None)
    assert entry_from("dead") == Entry(DeliveryStatus.dead, at=None)
    for garbage in (None, 3, "nope", {"status": "delivered"}, {"status": "x", "at": 1}):
        assert entry_from(garbage) is None


def test_delivered_is_final_even_for_a_replay() -> None:
    delivered = Entry(DeliveryStatus.delivered, NOW, 0)
    assert not should_deliver(delivered, replay=False)
    assert not should_deliver(delivered, replay=True)  # replaying twice creates nothing new


def test_a_parked_signal_is_tried_again_only_when_replayed() -> None:
    for status in (DeliveryStatus.dead, DeliveryStatus.failed):
        parked = Entry(status, NOW, 1)
        assert not should_deliver(parked, replay=False)
        assert should_deliver(parked, replay=True)
    assert should_deliver(entry_from("dead"), replay=True)  # also an older entry


def test_unknown_and_waiting_signals_are_delivered_and_a_wait_resumes() -> None:
    waiting = Waiting(since=NOW - 3600, attempts=40, announced_at=NOW - 100)
    entry = Entry(DeliveryStatus.retrying, NOW - 100, 0, waiting)
    assert should_deliver(None, replay=False)
    assert should_deliver(entry, replay=False)
    assert resumed(entry) == waiting  # the horizon counts from the first failure
    assert resumed(Entry(DeliveryStatus.dead, NOW, 0)) is None
    assert resumed(None) is None


def test_entries_of_the_partition_older_than_the_window_expire() -> None:
    window = 14 * DAY
    old = NOW - window - 1
    items = [
        ("old-p0", entry_value(Entry(DeliveryStatus.delivered, old, 0))),
        ("old-dead-p0", entry_value(Entry(DeliveryStatus.dead, old, 0))),
        ("fresh-p0", entry_value(Entry(DeliveryStatus.delivered, NOW - window + 60, 0))),
        ("old-p1", entry_value(Entry(DeliveryStatus.delivered, old, 1))),
        (
            "waiting-p0",
            entry_value(Entry(DeliveryStatus.retrying, old, 0, Waiting(old, 3))),
        ),
        ("legacy", "delivered"),
        ("garbage", 17),
    ]
    assert expired_keys(items, 0, NOW, window) == ["old-p0", "old-dead-p0"]
    assert expired_keys(items, 1, NOW, window) == ["old-p1"]


def test_a_partition_past_its_share_loses_its_oldest_settled_entries() -> None:
    """The ledger stays bounded within the window: past ``keep`` entries of a partition
    the oldest go, never one still waiting (it holds its retry horizon)."""
    settled = [
        (f"s{i}", entry_value(Entry(DeliveryStatus.delivered, NOW - 100 + i, 0))) for i in range(6)
    ]
    waiting = ("w", entry_value(Entry(DeliveryStatus.retrying, NOW - 500, 0, Waiting(NOW, 1))))
    other = ("p1", entry_value(Entry(DeliveryStatus.delivered, NOW - 900, 1)))
    items = [settled[3], waiting, *settled[:3], other, *settled[4:]]
    assert sorted(expired_keys(items, 0, NOW, 14 * DAY, keep=4)) == ["s0", "s1"]
    assert expired_keys(items, 0, NOW, 14 * DAY) == []


def test_a_report_is_one_delivery_as_a_case_and_another_as_a_note_on_each_case() -> None:
    report, case = "01JD6W2Q7X5N6G2M3K4P5R6S7T", "01JD6W2Q7X5N6G2M3K4P5R6S70"
    assert delivery_key(report, report) == report  # as before: a case is its signal_id
    assert delivery_key(report, case) == f"{report}@{case}"
    assert len({delivery_key(report, report), delivery_key(report, case)}) == 2
