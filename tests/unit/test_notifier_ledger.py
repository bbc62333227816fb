"""What the ledger decides: which due notices go out, and what expires."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from schemas import Channel, Reporter
from services.notifier.cases import Notice, NoticeKind, Record, Report
from services.notifier.ledger import (
    Settled,
    before_sending,
    entry,
    expired_keys,
    notice_keys,
    settled,
)

AT = datetime(2025, 3, 14, 9, 0, tzinfo=UTC)
MAX_AGE = timedelta(days=3)


def notice(at: datetime = AT) -> Notice:
    report = Report(
        signal_id="01JD6W2Q7X5N6G2M3K4P5R6S7T",
        ordinal=1,
        reporter=Reporter(employee_id="E-1"),
        channel=Channel.api,
        language="en",
        reported_at=at,
    )
    return Notice(NoticeKind.recorded, report, report.signal_id, "crm", Record(id="1", at=at), at)


@pytest.mark.parametrize(
    ("age", "allowed", "reachable", "expected"),
    [
        (timedelta(hours=1), True, True, None),
        (timedelta(days=3), True, True, None),  # the limit itself is still news
        (timedelta(days=3, seconds=1), True, True, Settled.stale),
        (timedelta(days=30), False, False, Settled.stale),
        (timedelta(hours=1), False, True, Settled.opted_out),
        (timedelta(hours=1), False, False, Settled.opted_out),
        (timedelta(hours=1), True, False, Settled.no_channel),
    ],
)
def test_what_keeps_a_due_notice_from_being_sent(
    age: timedelta, allowed: bool, reachable: bool, expected: Settled | None
) -> None:
    assert before_sending(notice(), AT + age, MAX_AGE, allowed, reachable) == expected


def test_any_entry_settles_its_notice_for_good() -> None:
    assert not settled(None)
    for outcome in Settled:
        assert settled(entry(outcome, "email", partition=0, now=1.0))


def test_only_old_entries_of_the_events_partition_expire() -> None:
    items = [
        ("old-here", entry(Settled.sent, "email", partition=1, now=100.0)),
        ("new-here", entry(Settled.sent, "email", partition=1, now=300.0)),
        ("old-there", entry(Settled.sent, "email", partition=2, now=100.0)),
        ("case-here", {"case_id": "x", "partition": 1, "touched_at": 50.0}),
        ("unreadable", "sent"),
    ]
    assert expired_keys(items, partition=1, cutoff=200.0).keys == ["old-here", "case-here"]


def test_past_its_share_a_partition_forgets_its_oldest_case_files() -> None:
    items = [
        (f"case-{i}", {"case_id": f"case-{i}", "partition": 1, "touched_at": 1000.0 + i})
        for i in (4, 0, 3, 1, 2)
    ]
    items.append(("elsewhere", {"case_id": "x", "partition": 2, "touched_at": 1.0}))
    assert expired_keys(items, partition=1, cutoff=500.0, keep=3).keys == ["case-0", "case-1"]
    assert expired_keys(items, partition=1, cutoff=500.0).keys == []


def test_a_forgotten_case_file_names_its_reports_ledger_entries() -> None:
    """Kept without their case file, they would settle nothing; kept with the file and
    dropped alone, every notice of the case would be due again."""
    first, later = notice(), "01JD6W2Q7X5N6G2M3K4P5R6S8V"
    case_file = {"case_id": first.case_id, "reports": [{"signal_id": first.report.signal_id}]}
    case_file["reports"].append({"signal_id": later})
    keys = notice_keys(case_file)
    assert first.key in keys and f"{later}|joined" in keys and f"{later}|resolved" in keys
    assert len(keys) == 2 * len(NoticeKind)
    assert notice_keys(None) == []
