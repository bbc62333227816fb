"""The insight app's pure parts: facts without customer data, idempotent table writes,
bounded expiry, and the summary (weeks, participation, outcomes, medians, mattered)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from schemas import (
    Classification,
    Dedupe,
    DeliveryResult,
    Destination,
    Kind,
    Outcome,
    OutcomeStatus,
    new_signal_id,
    topics,
)
from schemas.classification import Category
from schemas.insight import InsightSnapshot, reporter_ref
from services.insight.app import EXPIRE_EVERY_S, expiry_sweeps
from services.insight.facts import Change, Record, Report, decode, encode, read_fact
from services.insight.settings import InsightSettings
from services.insight.summary import median, settled_at, summarise
from services.insight.tally import (
    CaseProgress,
    expired,
    horizon_start,
    week_name,
    week_start,
    with_change,
    with_record,
)
from tests.support.builders import build_routed, build_signal

NOW = datetime(2026, 3, 12, 15, 0, tzinfo=UTC)  # a Thursday, ISO week 2026-W11
MONDAY = datetime(2026, 3, 9, tzinfo=UTC)


def report(
    at: datetime,
    *,
    case_id: str | None = None,
    kind: str = "complaint",
    department: str = "Retail",
    employee: str | None = "anna",
    channel: str = "form",
    category: str = "payments_cards",
) -> Report:
    signal_id = new_signal_id()
    return Report(
        signal_id=signal_id,
        case_id=case_id or signal_id,
        received_at=at,
        channel=channel,
        kind=kind,
        category=category,
        department=department,
        refs=(reporter_ref(employee),) if employee else (),
        destination="servicedesk" if kind == "complaint" else "crm",
    )


def change(
    case_id: str, status: OutcomeStatus, at: datetime, *, event: str | None = None
) -> Outcome:
    return Outcome(
        case_id=case_id,
        status=status,
        changed_at=at,
        record_id="4711",
        destination="servicedesk" if status not in ("won", "lost") else "crm",
        connector="request_tracker",
        event_id=event or f"{case_id}:{status}:{at.isoformat()}",
        observed_at=at,
    )


def progress(
    case_id: str, recorded: datetime | None, *changes: tuple[OutcomeStatus, datetime]
) -> CaseProgress:
    state: CaseProgress | None = None
    if recorded is not None:
        state = with_record(state, Record(signal_id=case_id, at=recorded))
    for status, at in changes:
        state = with_change(state, change(case_id, status, at))
    assert state is not None
    return state


# --------------------------------------------------------------------------- facts


def test_a_routed_report_becomes_a_fact_without_the_customer_or_the_text() -> None:
    signal = build_signal(
        reporter={
            "employee_id": "E-1001",
            "email": "Sanne@Bank.Example",
            "name": "Sanne de Vries",
            "department": "  Retail \n Banking ",
        },
        customer={"name": "Jan Klant", "email": "jan@klant.example", "phone": "+31 6 1"},
    )
    routed = build_routed(
        signal,
        classification=Classification(
            kind=Kind.complaint,
            confidence=0.9,
            category=Category.payments_cards,
            language="nl",
            classifier_version="t",
        ),
    )
    fact = read_fact(topics.ROUTED_SERVICEDESK, routed.model_dump_json().encode())
    assert isinstance(fact, Report)
    assert fact.case_id == fact.signal_id == signal.signal_id
    assert (fact.kind, fact.category, fact.channel) == ("complaint", "payments_cards", "form")
    assert fact.department == "Retail Banking"
    assert fact.refs == (reporter_ref("E-1001"), reporter_ref("sanne@bank.example"))
    travelled = encode(fact).decode()
    for personal in ("Jan Klant", "jan@klant", "+31", "Sanne", "E-1001", "declined"):
        assert personal not in travelled
    assert decode(encode(fact)) == fact


def test_a_duplicate_counts_for_its_case_and_triage_counts_too() -> None:
    first = build_routed()
    case = first.signal.signal_id
    again = build_routed(
        build_signal(),
        dedupe=Dedupe(duplicate_of=case, cluster_id=case, reporters_count=2),
    )
    fact = read_fact(topics.DUPLICATES, again.model_dump_json().encode())
    assert isinstance(fact, Report) and fact.case_id == case != fact.signal_id
    triaged = build_routed(destination=Destination(name="triage"))
    assert isinstance(read_fact(topics.TRIAGE, triaged.model_dump_json().encode()), Report)


def test_only_a_delivered_result_is_a_record_and_outcomes_pass_whole() -> None:
    def result(status: str) -> bytes:
        return (
            DeliveryResult(
                signal_id=new_signal_id(),
                destination="servicedesk",
                connector="webhook",
                status=status,
                attempts=1,
                at=NOW,
            )
            .model_dump_json()
            .encode()
        )

    assert isinstance(read_fact(topics.DELIVERED, result("delivered")), Record)
    for status in ("retrying", "failed", "dead"):
        assert read_fact(topics.DELIVERED, result(status)) is None
    outcome = change(new_signal_id(), OutcomeStatus.resolved, NOW)
    assert read_fact(topics.OUTCOMES, outcome.model_dump_json().encode()) == Change(outcome=outcome)


@pytest.mark.parametrize("topic", [topics.ROUTED_CRM, topics.DELIVERED, topics.OUTCOMES])
def test_an_unreadable_event_is_refused(topic: str) -> None:
    with pytest.raises(ValidationError):
        read_fact(topic, b'{"not": "this"}')
    with pytest.raises(ValidationError):
        decode(b"{}")


# --------------------------------------------------------------------------- tally


def test_case_progress_is_idempotent_and_order_free() -> None:
    case = new_signal_id()
    facts: list[Any] = [
        Record(signal_id=case, at=NOW),
        change(case, OutcomeStatus.in_progress, NOW + timedelta(hours=1)),
        change(case, OutcomeStatus.resolved, NOW + timedelta(hours=5)),
        Record(signal_id=case, at=NOW + timedelta(minutes=3)),  # a redelivery, later
    ]

    def fold(order: list[Any]) -> CaseProgress | None:
        state: CaseProgress | None = None
        for fact in order:
            state = (
                with_record(state, fact) if isinstance(fact, Record) else with_change(state, fact)
            )
        return state

    forward = fold(facts + facts)
    assert forward == fold(list(reversed(facts)))
    assert forward is not None and forward.recorded_at == NOW
    assert forward.touched_at == NOW + timedelta(hours=5)
    assert [o.status for o in forward.outcomes] == ["in_progress", "resolved"]
    # JSON in the changelog and back (what a restarted worker reads).
    assert CaseProgress.model_validate(json.loads(forward.model_dump_json())) == forward


def test_weeks_are_iso_weeks_in_utc() -> None:
    assert week_start(NOW) == MONDAY
    assert week_name(NOW) == "2026-W11"
    assert week_name(datetime(2026, 1, 1, tzinfo=UTC)) == "2026-W01"
    assert week_name(datetime(2027, 1, 1, tzinfo=UTC)) == "2026-W53"
    assert horizon_start(NOW, 1) == MONDAY
    assert horizon_start(NOW, 26) == MONDAY - timedelta(weeks=25)


def test_expiry_forgets_what_is_older_than_the_horizon_and_beyond_the_cap() -> None:
    cutoff = horizon_start(NOW, 4)
    entries = [
        ("old", cutoff - timedelta(seconds=1)),
        ("edge", cutoff),
        ("a", NOW - timedelta(days=1)),
        ("b", NOW - timedelta(days=2)),
        ("c", NOW),
    ]
    assert sorted(expired(entries, cutoff, keep=10)) == ["old"]
    assert sorted(expired(entries, cutoff, keep=2)) == ["b", "edge", "old"]


def test_the_tables_are_expired_once_a_tenth_of_the_smaller_cap_has_come() -> None:
    """Not on the clock alone: facts arriving faster than the cap within EXPIRE_EVERY_S
    would all be held on top of it until then (a busy hour grew insight past its caps)."""
    settings = InsightSettings(insight_max_reports=1000, insight_max_cases=500)
    sweeps = expiry_sweeps(settings)
    start = 1_000_000.0
    assert not any(sweeps.due(0, start + i * 0.001) for i in range(49))
    assert sweeps.due(0, start + 0.05)  # the 50th fact: a tenth of 500
    assert not sweeps.due(0, start + 0.06)
    assert sweeps.due(0, start + 0.06 + EXPIRE_EVERY_S)  # and on the clock, as before


# --------------------------------------------------------------------------- summary


def test_median_is_exact() -> None:
    assert median([]) is None
    assert median([5.0]) == 5.0
    assert median([1.0, 9.0, 3.0]) == 3.0
    assert median([1.0, 2.0, 3.0, 10.0]) == 2.5


def test_settled_is_the_start_of_the_last_settled_run() -> None:
    case = new_signal_id()
    t = [NOW + timedelta(hours=h) for h in range(6)]
    history = progress(
        case,
        t[0],
        (OutcomeStatus.resolved, t[1]),
        (OutcomeStatus.closed, t[2]),
    ).outcomes
    assert settled_at(history) == t[1]
    reopened = progress(
        case,
        t[0],
        (OutcomeStatus.resolved, t[1]),
        (OutcomeStatus.in_progress, t[3]),
        (OutcomeStatus.resolved, t[4]),
    ).outcomes
    assert settled_at(reopened) == t[4]
    still_open = progress(case, t[0], (OutcomeStatus.resolved, t[1]), (OutcomeStatus.opened, t[2]))
    assert settled_at(still_open.outcomes) is None


def test_signals_per_week_by_channel_kind_category_and_department() -> None:
    reports = [
        report(MONDAY + timedelta(hours=1), channel="email"),
        report(MONDAY + timedelta(hours=2), kind="opportunity", category="energy"),
        report(MONDAY - timedelta(days=3), department="", employee="bob"),  # last week
        report(horizon_start(NOW, 4) - timedelta(seconds=1)),  # before the horizon
        report(MONDAY + timedelta(weeks=1, hours=1)),  # next week: not yet shown
    ]
    snapshot = summarise(reports, {}, NOW, 4)
    assert [w.week for w in snapshot.weeks] == ["2026-W08", "2026-W09", "2026-W10", "2026-W11"]
    assert [w.signals for w in snapshot.weeks] == [0, 0, 1, 2]
    this_week, last_week = snapshot.weeks[-1], snapshot.weeks[-2]
    assert this_week.starts_on == MONDAY.date()
    assert this_week.by_channel == {"email": 1, "form": 1}
    assert this_week.by_kind == {"complaint": 1, "opportunity": 1}
    assert this_week.by_category == {"energy": 1, "payments_cards": 1}
    assert this_week.by_department == {"Retail": 2}
    assert last_week.by_department == {"": 1}  # not given
    InsightSnapshot.model_validate_json(snapshot.model_dump_json())  # a valid contract


def test_departments_beyond_the_top_ones_are_counted_together() -> None:
    reports = [report(MONDAY, department=f"D{i}", employee=f"e{i}") for i in range(5)]
    reports += [report(MONDAY, department="D0", employee="e-other")]
    snapshot = summarise(reports, {}, NOW, 1, top_departments=2)
    [week] = snapshot.weeks
    assert week.by_department == {"D0": 2, "D1": 1}
    assert week.other_departments == 3
    part = snapshot.participation
    assert part.employees == 6
    assert [(d.department, d.employees, d.signals) for d in part.by_department] == [
        ("D0", 2, 2),
        ("D1", 1, 1),
    ]
    assert part.other_departments is not None
    assert (part.other_departments.employees, part.other_departments.signals) == (3, 3)


def test_participation_counts_each_employee_once() -> None:
    reports = [
        report(MONDAY, employee="anna"),
        report(MONDAY + timedelta(hours=1), employee="anna"),
        report(MONDAY, employee="bob", department="Sales"),
        report(MONDAY, employee=None, department="Sales"),  # no identity: a report only
    ]
    part = summarise(reports, {}, NOW, 1).participation
    assert part.employees == 2
    rows = {d.department: (d.employees, d.signals) for d in part.by_department}
    assert rows == {"Retail": (1, 2), "Sales": (1, 2)}


def test_outcomes_and_medians_over_the_cases_of_the_horizon() -> None:
    t0 = MONDAY - timedelta(weeks=1)
    first = report(t0)
    second = report(t0, kind="opportunity")
    third = report(t0)
    unrecorded = report(t0)
    old = report(t0 - timedelta(weeks=30))  # first reported before the horizon
    colleague = report(t0 + timedelta(hours=2), case_id=old.case_id, employee="bob")
    hours = timedelta(hours=1)
    cases = {
        first.case_id: progress(
            first.case_id, t0 + hours, (OutcomeStatus.resolved, t0 + 10 * hours)
        ),
        second.case_id: progress(
            second.case_id, t0 + 3 * hours, (OutcomeStatus.won, t0 + 30 * hours)
        ),
        third.case_id: progress(
            third.case_id, t0 + 5 * hours, (OutcomeStatus.in_progress, t0 + 6 * hours)
        ),
        old.case_id: progress(old.case_id, t0, (OutcomeStatus.resolved, t0 + hours)),
    }
    reports = [first, second, third, unrecorded, old, colleague]
    outcomes = summarise(reports, cases, NOW, 4).outcomes
    assert (outcomes.cases, outcomes.recorded) == (4, 3)
    assert (outcomes.tickets_resolved, outcomes.leads_won, outcomes.leads_lost) == (1, 1, 0)
    assert outcomes.median_to_record_s == 3 * 3600  # of 1, 3 and 5 hours
    assert outcomes.median_to_resolution_s == 20 * 3600  # of 10 and 30 hours


def test_reports_that_mattered_name_no_one_and_are_bounded() -> None:
    t0 = MONDAY - timedelta(weeks=1)
    firsts = [report(t0 + timedelta(minutes=i), employee=f"e{i}") for i in range(4)]
    joined = report(t0 + timedelta(hours=1), case_id=firsts[0].case_id, employee="bob")
    lost = report(t0, kind="opportunity")
    cases = {
        r.case_id: progress(r.case_id, t0, (OutcomeStatus.resolved, t0 + timedelta(days=i + 1)))
        for i, r in enumerate(firsts)
    }
    cases[lost.case_id] = progress(lost.case_id, t0, (OutcomeStatus.lost, t0 + timedelta(days=1)))
    snapshot = summarise([*firsts, joined, lost], cases, NOW, 4, max_mattered=3)
    mattered = snapshot.mattered
    assert len(mattered) == 3  # the lost lead never; the oldest resolution falls off
    assert [m.settled_at for m in mattered] == sorted(
        (m.settled_at for m in mattered), reverse=True
    )
    oldest = mattered[-1]
    assert oldest.settled_at == t0 + timedelta(days=2)
    newest = mattered[0]
    assert (newest.status, newest.kind, newest.department) == ("resolved", "complaint", "Retail")
    assert newest.reported_on == (t0 + timedelta(minutes=3)).date()
    assert all(m.reporters == 1 for m in mattered)  # the joined case (day 1) fell off
    full = summarise([*firsts, joined], cases, NOW, 4).mattered
    [two] = [m for m in full if m.reporters == 2]
    assert two.reporter_refs == [reporter_ref("e0"), reporter_ref("bob")]
    assert "bob" not in snapshot.model_dump_json()  # refs only (hexadecimal)
