"""Open cases outlive the dedupe window: their records are still polled and their
outcome still told, up to a horizon and a capacity; everything else expires as before
(pure; the clock is passed in)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from schemas import OutcomeStatus
from services.common.open_cases import (
    DAY_S,
    Hold,
    OutcomeWatchSettings,
    PastWindow,
    Watching,
    awaited,
    release,
)
from services.connectors.outcomes import watched_since
from services.connectors.records import Entry, Record
from services.connectors.records import expired_keys as expired_records
from services.notifier.cases import awaiting_since, new_case, with_fact
from services.notifier.ledger import expired_keys as expired_files
from tests.unit.test_notifier_cases import T0, delivered, first_report, outcome
from tests.unit.test_outcome_polling import outcome as polled

WINDOW_S = 14 * DAY_S
HOLD = Hold(horizon_s=180 * DAY_S, keep=3)
WEEK_S = 7 * DAY_S


def day(n: float) -> float:
    return (T0 + timedelta(days=n)).timestamp()


# --- the decision -----------------------------------------------------------------------


def test_only_a_final_outcome_ends_the_wait() -> None:
    assert awaited(None)
    assert awaited(OutcomeStatus.opened)
    assert awaited(OutcomeStatus.in_progress)
    for final in (OutcomeStatus.resolved, OutcomeStatus.closed, OutcomeStatus.won):
        assert not awaited(final)
    assert not awaited(OutcomeStatus.lost)


def test_open_cases_are_held_until_the_horizon_and_the_rest_go() -> None:
    past = [
        PastWindow("open", day(0)),
        PastWindow("done", None),
        PastWindow("too-old", day(0)),
    ]
    assert release(past[:2], day(20), HOLD).keys == ["done"]
    assert release(past[:1], day(180), HOLD).keys == []
    assert release(past[2:], day(181), HOLD).keys == ["too-old"]


def test_past_its_share_of_open_cases_a_partition_lets_the_oldest_go_and_counts_them() -> None:
    past = [PastWindow(f"case-{n}", day(n)) for n in (4, 0, 3, 1, 2)]
    released = release(past, day(30), HOLD)
    assert sorted(released.keys) == ["case-0", "case-1"]
    assert released.crowded == 2
    assert release([*past, PastWindow("done", None)], day(30), HOLD).crowded == 2


def test_one_pair_of_settings_for_both_services() -> None:
    hold = OutcomeWatchSettings(outcome_watch_days=90, outcome_watch_max_cases=1200).hold(12)
    assert hold == Hold(horizon_s=90 * DAY_S, keep=100)
    assert OutcomeWatchSettings().hold(1) == Hold(horizon_s=180 * DAY_S, keep=50_000)


# --- the connectors: a still-polled record keeps its mapping entry -------------------------


def mapping_entry(at: float, partition: int = 1, record: bool = True) -> dict[str, Any]:
    value = Entry(Record("17") if record else None).to_json()
    value.update(at=at, partition=partition)
    return value


def test_a_polled_ticket_still_open_after_the_window_keeps_being_polled() -> None:
    """The defect: on day 15 the case -> record entry of an open ticket expired with the
    ledger, so the poller (which reads its records from that mapping) no longer read it
    and its resolution on day 20 reached nobody."""
    now = day(15)
    now_dt = datetime.fromtimestamp(now, UTC)
    current = {
        "servicedesk|OPEN": None,
        "servicedesk|WORKING": polled(OutcomeStatus.in_progress, T0 + timedelta(days=3)),
        "servicedesk|RESOLVED": polled(OutcomeStatus.resolved, T0 + timedelta(days=2)),
        "servicedesk|REOPENABLE": polled(OutcomeStatus.resolved, T0 + timedelta(days=13)),
        "servicedesk|CLOSED": polled(OutcomeStatus.closed, T0 + timedelta(days=13)),
    }
    items = [(key, mapping_entry(day(0))) for key in current]
    items += [
        ("servicedesk|OPEN|note|DUP", mapping_entry(day(0))),  # a note: nothing to poll
        ("servicedesk|PENDING", mapping_entry(day(0), record=False)),  # never written
        ("servicedesk|RECENT", mapping_entry(day(10))),  # inside the window
        ("servicedesk|ELSEWHERE", mapping_entry(day(0), partition=2)),
    ]

    def opened(key: str, value: Any) -> float | None:
        if "|note|" in key:
            return None
        return watched_since(value, current.get(key), now_dt, WEEK_S)

    released = expired_records(items, 1, now, WINDOW_S, Watching(opened, HOLD, now))
    assert sorted(released.keys) == [
        "servicedesk|CLOSED",
        "servicedesk|OPEN|note|DUP",
        "servicedesk|PENDING",
        "servicedesk|RESOLVED",
    ]
    # Without watching (the ledger's way, and main's): every entry past the window goes.
    assert "servicedesk|OPEN" in expired_records(items, 1, now, WINDOW_S).keys
    # At the horizon even an open ticket is let go.
    late = day(181)
    gone = expired_records(items, 1, late, WINDOW_S, Watching(opened, HOLD, late)).keys
    assert "servicedesk|OPEN" in gone
    assert "servicedesk|WORKING" in gone


def test_watched_since_is_when_the_record_was_written() -> None:
    now = datetime.fromtimestamp(day(20), UTC)
    assert watched_since(mapping_entry(day(1)), None, now, WEEK_S) == day(1)
    assert watched_since({"record": {"id": "17"}}, None, now, WEEK_S) is None  # no time
    assert watched_since("garbage", None, now, WEEK_S) is None


# --- the notifier: the case file of an open case is kept, so its outcome is told ----------


def case_file(*facts: Any, touched_at: float) -> dict[str, Any]:
    case = new_case(facts[0].signal.signal_id, partition=1, now=touched_at)
    for fact in facts:
        case = with_fact(case, fact)
    return case.model_dump(mode="json")


def test_the_notifier_keeps_the_case_file_of_an_open_ticket_past_the_window() -> None:
    """The defect, on the notifier's side: on day 15 the case file (who reported it) of
    an open ticket expired, so its resolution on day 20 found nobody to tell."""
    open_case = first_report()
    resolved_case = first_report()
    undelivered = first_report()
    items = [
        ("open", case_file(open_case, delivered(open_case), touched_at=day(0))),
        (
            "resolved",
            case_file(
                resolved_case,
                delivered(resolved_case),
                outcome(resolved_case, OutcomeStatus.resolved, 60),
                touched_at=day(0),
            ),
        ),
        ("undelivered", case_file(undelivered, touched_at=day(0))),
    ]
    now = day(15)
    watching = Watching(lambda _key, value: awaiting_since(value), HOLD, now)
    kept = expired_files(items, partition=1, cutoff=now - WINDOW_S, keep=10, watching=watching)
    assert sorted(kept.keys) == ["resolved", "undelivered"]
    assert "open" in expired_files(items, partition=1, cutoff=now - WINDOW_S).keys
    late = day(181)
    at_horizon = Watching(lambda _key, value: awaiting_since(value), HOLD, late)
    assert "open" in expired_files(items, 1, late - WINDOW_S, 10, at_horizon).keys


def test_an_unreadable_case_file_is_not_held() -> None:
    assert awaiting_since({"case_id": 3}) is None
