"""Which notices a case's events justify, in whatever order the events arrive."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from schemas import (
    Dedupe,
    DeliveryResult,
    DeliveryStatus,
    Outcome,
    OutcomeStatus,
    RoutedSignal,
    topics,
)
from services.notifier.cases import (
    MAX_REPORTS,
    CaseFile,
    Fact,
    NoticeKind,
    case_of,
    due,
    new_case,
    read_fact,
    with_fact,
)
from tests.support.builders import build_routed, build_signal

T0 = datetime(2025, 3, 14, 9, 0, tzinfo=UTC)


def first_report(**signal: Any) -> RoutedSignal:
    return build_routed(build_signal(**signal), routed_at=T0)


def colleague(case: RoutedSignal, count: int, minutes: int = 5) -> RoutedSignal:
    case_id = case.signal.signal_id
    return build_routed(
        build_signal(reporter={"employee_id": f"E-{count}", "email": f"e{count}@bank.example"}),
        dedupe=Dedupe(duplicate_of=case_id, cluster_id=case_id, reporters_count=count),
        destination=case.destination,
        routed_at=T0 + timedelta(minutes=minutes),
    )


def delivered(case: RoutedSignal, status: DeliveryStatus = DeliveryStatus.delivered) -> Any:
    return DeliveryResult(
        signal_id=case.signal.signal_id,
        destination=case.destination.name,
        connector="request_tracker",
        status=status,
        external_id="4711" if status is DeliveryStatus.delivered else None,
        external_url="https://rt.example.com/Ticket/Display.html?id=4711",
        attempts=1,
        at=T0 + timedelta(minutes=1),
    )


def outcome(case: RoutedSignal, status: OutcomeStatus, minutes: int) -> Outcome:
    at = T0 + timedelta(minutes=minutes)
    return Outcome(
        case_id=case.signal.signal_id,
        status=status,
        changed_at=at,
        record_id="4711",
        record_url="https://rt.example.com/Ticket/Display.html?id=4711",
        destination=case.destination.name,
        connector="request_tracker",
        event_id=f"{status.value}@{minutes}",
        observed_at=at,
    )


def fold(facts: list[Fact], case_id: str | None = None) -> CaseFile:
    case = new_case(case_id or case_of(facts[0]), partition=0, now=0.0)
    for fact in facts:
        assert case_of(fact) == case.case_id
        case = with_fact(case, fact)
    return case


def owed(case: CaseFile) -> list[tuple[str, str]]:
    return [(n.report.signal_id, n.kind.value) for n in due(case)]


def test_nothing_is_owed_before_the_ticket_exists() -> None:
    case = first_report()
    assert due(fold([case])) == []
    assert due(fold([case, delivered(case, DeliveryStatus.retrying)])) == []


def test_the_first_reporter_is_owed_the_ticket_once_it_exists() -> None:
    case = first_report()
    [notice] = due(fold([case, delivered(case)]))
    assert notice.kind is NoticeKind.recorded
    assert notice.key == f"{case.signal.signal_id}|recorded"
    assert (notice.record.id, notice.destination) == ("4711", "servicedesk")
    assert notice.at == T0 + timedelta(minutes=1)  # when the ticket was known


def test_colleagues_are_owed_joined_with_their_place_in_line() -> None:
    case = first_report()
    second, third = colleague(case, 2), colleague(case, 3, minutes=9)
    notices = due(fold([third, case, delivered(case), second], case.signal.signal_id))
    assert [(n.kind, n.report.ordinal) for n in notices] == [
        (NoticeKind.recorded, 1),
        (NoticeKind.joined, 2),
        (NoticeKind.joined, 3),
    ]
    assert notices[2].at == T0 + timedelta(minutes=9)  # known once the colleague reported


def test_resolved_is_owed_to_everyone_who_reported_the_case() -> None:
    case = first_report()
    second = colleague(case, 2)
    facts: list[Fact] = [case, second, delivered(case), outcome(case, OutcomeStatus.resolved, 60)]
    kinds = [(n.report.ordinal, n.kind.value) for n in due(fold(facts))]
    assert kinds == [(1, "recorded"), (1, "resolved"), (2, "joined"), (2, "resolved")]


def test_closed_counts_as_resolved_and_says_closed() -> None:
    case = first_report()
    notices = due(fold([case, delivered(case), outcome(case, OutcomeStatus.closed, 60)]))
    assert [(n.kind, n.status) for n in notices][-1] == (NoticeKind.resolved, "closed")


def test_a_won_lead_is_owed_won_and_a_lost_one_nothing_more() -> None:
    lead = build_routed(build_signal(), destination={"name": "crm"}, routed_at=T0)
    won = due(fold([lead, delivered(lead), outcome(lead, OutcomeStatus.won, 60)]))
    assert [n.kind for n in won] == [NoticeKind.recorded, NoticeKind.won]
    lost = due(fold([lead, delivered(lead), outcome(lead, OutcomeStatus.lost, 60)]))
    assert [n.kind for n in lost] == [NoticeKind.recorded]


def test_a_late_in_progress_does_not_take_resolved_back() -> None:
    case = first_report()
    facts: list[Fact] = [
        case,
        delivered(case),
        outcome(case, OutcomeStatus.resolved, 60),
        outcome(case, OutcomeStatus.in_progress, 30),
    ]
    assert [n.kind for n in due(fold(facts))] == [NoticeKind.recorded, NoticeKind.resolved]


def test_a_ticket_reopened_later_owes_nothing_resolved_until_it_is_resolved_again() -> None:
    case = first_report()
    facts: list[Fact] = [
        case,
        delivered(case),
        outcome(case, OutcomeStatus.resolved, 60),
        outcome(case, OutcomeStatus.in_progress, 90),
    ]
    assert [n.kind for n in due(fold(facts))] == [NoticeKind.recorded]


def test_an_outcome_alone_names_the_record() -> None:
    case = first_report()
    [recorded, resolved] = due(fold([case, outcome(case, OutcomeStatus.resolved, 60)]))
    assert recorded.record.id == resolved.record.id == "4711"


def test_any_order_and_any_repetition_owe_the_same_notices() -> None:
    case = first_report()
    second = colleague(case, 2)
    facts: list[Fact] = [case, second, delivered(case), outcome(case, OutcomeStatus.resolved, 60)]
    expected = owed(fold(facts))
    for order in itertools.permutations(facts):
        assert owed(fold([*order, *order], case.signal.signal_id)) == expected


def test_a_redelivered_event_changes_nothing() -> None:
    case = first_report()
    once = fold([case, delivered(case)])
    assert with_fact(once, case) == once
    assert with_fact(once, delivered(case)) == once
    assert with_fact(once, delivered(case, DeliveryStatus.retrying)) == once


def test_triage_owes_nothing() -> None:
    case = build_routed(build_signal(), destination={"name": "triage"}, routed_at=T0)
    assert fold([case]).reports == ()


def test_reports_past_the_limit_are_not_remembered() -> None:
    case = first_report()
    file = fold([case])
    for n in range(2, MAX_REPORTS + 10):
        file = with_fact(file, colleague(case, n))
    assert len(file.reports) == MAX_REPORTS


def test_a_case_file_keeps_only_the_way_back_not_the_report() -> None:
    case = first_report(
        channel="email",
        text="Customer Jan Klant, +31 6 11112222, is furious about his card",
        customer={"name": "Jan Klant", "phone": "+31 6 11112222"},
        metadata={"message_id": "<m1@bank.example>", "date": "Fri, 14 Mar 2025", "x": "y"},
    )
    stored = fold([case]).model_dump_json()
    assert "Jan Klant" not in stored and "11112222" not in stored
    assert fold([case]).reports[0].reply_path == {"message_id": "<m1@bank.example>"}
    assert CaseFile.model_validate_json(stored) == fold([case])


@pytest.mark.parametrize(
    ("topic", "fact"),
    [
        (topics.ROUTED_SERVICEDESK, first_report()),
        (topics.DUPLICATES, colleague(first_report(), 2)),
        (topics.DELIVERED, delivered(first_report())),
        (topics.OUTCOMES, outcome(first_report(), OutcomeStatus.won, 1)),
    ],
)
def test_each_topic_is_read_as_its_contract(topic: str, fact: Fact) -> None:
    assert read_fact(topic, fact.model_dump_json().encode()) == fact


def test_a_duplicate_belongs_to_its_case() -> None:
    case = first_report()
    assert case_of(colleague(case, 2)) == case.signal.signal_id
