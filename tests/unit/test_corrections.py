"""Operators' corrections of dedupe (services/processor/domain/corrections.py), on the real
Deduper and the real judge: "not the same case" routes the report as its own case and
later reports like it join it; "same case" makes later reports join the other's case; a
triage case's label sends its later reports where the operator sent it; all of it
idempotent and bounded; the pairs as rows of the labelled dedupe set."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from schemas import (
    CaseCorrection,
    Category,
    Classification,
    Kind,
    Label,
    RoutedSignal,
    Signal,
    Urgency,
    Verdict,
    topics,
)
from schemas.label import correction_id_for, label_id_for
from services.processor.decision_stage import CORRECTION_PREFIX, LABEL_PREFIX, read_decision
from services.processor.domain import corrections
from services.processor.domain.corrections import (
    CORRECTED_CASES,
    apply_decision,
    dedupe_rows,
)
from services.processor.domain.dedupe import DedupePolicy, Deduper
from services.processor.domain.route import DEFAULT_RULES
from services.processor.handlers import judge
from tests.support.builders import build_signal

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
POLICY = DedupePolicy()
DEDUPE_FILE = Path(__file__).parents[2] / "services/processor/dedupe_data/labelled_dedupe.jsonl"
CARD = "Her bank card was declined three times at the supermarket this week."


def _complaint(confidence: float = 0.9) -> Classification:
    return Classification(
        kind=Kind.complaint,
        confidence=confidence,
        category=Category.payments_cards,
        urgency=Urgency.normal,
        language="en",
        classifier_version="test",
    )


def _report(
    text: str, minutes: float, reporter: str, customer: dict[str, Any] | None = None
) -> Signal:
    return build_signal(
        text=text,
        received_at=T0 + timedelta(minutes=minutes),
        idempotency_key=f"key-{minutes}-{reporter}",
        reporter={"employee_id": reporter},
        customer=customer,
    )


def _judged(deduper: Deduper, signal: Signal, confidence: float = 0.9) -> RoutedSignal:
    result = judge(signal, _complaint(confidence), deduper, DEFAULT_RULES, signal.received_at)
    assert result.routed is not None
    return result.routed


def _correction(
    verdict: Verdict,
    report: RoutedSignal,
    other: RoutedSignal,
    minutes: float = 30,
    operator: str = "ref-op-1",
) -> CaseCorrection:
    signal_id, other_id = report.signal.signal_id, other.signal.signal_id
    return CaseCorrection(
        correction_id=correction_id_for(signal_id, other_id),
        verdict=verdict,
        signal_id=signal_id,
        other_signal_id=other_id,
        report=report,
        other=other,
        operator_ref=operator,
        decided_at=T0 + timedelta(minutes=minutes),
    )


def _apply(deduper: Deduper, decision: CaseCorrection | Label) -> corrections.Effect:
    return apply_decision(decision, deduper.memory, DEFAULT_RULES, deduper.policy)


JAN = {"name": "Jan de Vries", "phone": "+31 6 12345678"}
PIET = {"name": "Piet Bakker", "phone": "+31 6 87654321"}


@pytest.fixture
def case_with_a_wrong_duplicate() -> tuple[Deduper, RoutedSignal, RoutedSignal]:
    """``first`` opens Jan's case; ``wrong`` is another card complaint of Jan's, which
    dedupe joins to it (an operator knows it is another matter)."""
    deduper = Deduper({}, POLICY)
    first = _judged(deduper, _report(CARD, 0, "e-1", JAN))
    wrong = _judged(deduper, _report("Jan's new card never arrived by post.", 5, "e-2", JAN))
    assert wrong.dedupe.duplicate_of == first.signal.signal_id
    return deduper, first, wrong


def test_not_the_same_case_routes_the_report_as_a_case_of_its_own(
    case_with_a_wrong_duplicate: tuple[Deduper, RoutedSignal, RoutedSignal],
) -> None:
    deduper, first, wrong = case_with_a_wrong_duplicate
    correction = _correction(Verdict.not_same_case, wrong, first)
    effect = _apply(deduper, correction)
    assert effect.what == "split"
    assert effect.topic == topics.ROUTED_SERVICEDESK
    routed = effect.routed
    assert routed is not None
    assert routed.signal == wrong.signal
    assert routed.dedupe.duplicate_of is None
    assert routed.dedupe.cluster_id == wrong.signal.signal_id
    assert routed.dedupe.reporters_count == 1
    assert routed.destination.name == "servicedesk"
    assert routed.rule_id == "complaints-to-servicedesk"
    assert routed.routed_at == correction.decided_at
    assert effect.pair == corrections.LabelledPair(
        wrong.signal.signal_id, first.signal.signal_id, same_case=False
    )


def test_after_not_the_same_a_report_like_it_joins_it_not_the_old_case(
    case_with_a_wrong_duplicate: tuple[Deduper, RoutedSignal, RoutedSignal],
) -> None:
    deduper, first, wrong = case_with_a_wrong_duplicate
    _apply(deduper, _correction(Verdict.not_same_case, wrong, first))
    # The same words again (no customer named): like the split report only.
    again = _judged(deduper, _report("Jan's new card never arrived by post.", 8, "e-3"))
    assert again.dedupe.duplicate_of == wrong.signal.signal_id
    assert again.destination.name == "servicedesk"  # to the split case's own ticket
    assert again.dedupe.reporters_count == 2


def test_without_the_correction_that_report_joins_the_old_case(
    case_with_a_wrong_duplicate: tuple[Deduper, RoutedSignal, RoutedSignal],
) -> None:
    deduper, first, _ = case_with_a_wrong_duplicate
    again = _judged(deduper, _report("Jan's new card never arrived by post.", 8, "e-3"))
    assert again.dedupe.duplicate_of == first.signal.signal_id


def test_a_correction_read_twice_changes_nothing_and_routes_the_same(
    case_with_a_wrong_duplicate: tuple[Deduper, RoutedSignal, RoutedSignal],
) -> None:
    deduper, first, wrong = case_with_a_wrong_duplicate
    correction = _correction(Verdict.not_same_case, wrong, first)
    once = _apply(deduper, correction)
    memory = json.dumps(deduper.memory, sort_keys=True)
    twice = _apply(deduper, correction)
    assert twice == once
    assert json.dumps(deduper.memory, sort_keys=True) == memory


def test_not_the_same_about_a_case_of_its_own_routes_nothing() -> None:
    deduper = Deduper({}, POLICY)
    jan = _judged(deduper, _report(CARD, 0, "e-1", JAN))
    piet = _judged(deduper, _report(CARD + " Piet too.", 3, "e-2", PIET))
    effect = _apply(deduper, _correction(Verdict.not_same_case, piet, jan))
    assert (effect.what, effect.routed) == ("recorded", None)


def test_same_case_makes_a_later_report_join_the_other_case() -> None:
    deduper = Deduper({}, POLICY)
    jan = _judged(deduper, _report(CARD, 0, "e-1", JAN))
    # The operator knows Piet's report is about Jan's card (his husband's account).
    piet = _judged(
        deduper, _report("Piet says the card of his partner keeps failing.", 3, "e-2", PIET)
    )
    assert piet.dedupe.duplicate_of is None
    effect = _apply(deduper, _correction(Verdict.same_case, piet, jan))
    assert (effect.what, effect.routed) == ("joined", None)  # Piet's own ticket stays
    later = _judged(deduper, _report("Piet says the card of his partner keeps failing.", 6, "e-3"))
    assert later.dedupe.duplicate_of == jan.signal.signal_id
    assert later.destination.name == "servicedesk"
    assert later.dedupe.reporters_count == 3  # Jan's reporter, Piet's, and this one


def test_without_same_case_the_later_report_joins_its_own_case() -> None:
    deduper = Deduper({}, POLICY)
    _judged(deduper, _report(CARD, 0, "e-1", JAN))
    piet = _judged(
        deduper, _report("Piet says the card of his partner keeps failing.", 3, "e-2", PIET)
    )
    later = _judged(deduper, _report("Piet says the card of his partner keeps failing.", 6, "e-3"))
    assert later.dedupe.duplicate_of == piet.signal.signal_id


# Chasers (dedupe.py) read a report's case from its stored report: corrections reach them.


@pytest.mark.parametrize("corrected", [True, False])
def test_a_chaser_naming_the_customer_follows_same_case(corrected: bool) -> None:
    deduper = Deduper({}, POLICY)
    jan = _judged(deduper, _report(CARD, 0, "e-1", JAN))
    piet = _judged(
        deduper, _report("Piet says the card of his partner keeps failing.", 3, "e-2", PIET)
    )
    if corrected:
        _apply(deduper, _correction(Verdict.same_case, piet, jan))
    chaser = _judged(deduper, _report("Has anyone called Piet Bakker back yet?", 60, "e-3"))
    assert chaser.dedupe.duplicate_of == (jan if corrected else piet).signal.signal_id


@pytest.mark.parametrize("corrected", [True, False])
def test_a_chaser_naming_nobody_follows_its_colleague_s_report_out_of_the_case(
    case_with_a_wrong_duplicate: tuple[Deduper, RoutedSignal, RoutedSignal], corrected: bool
) -> None:
    deduper, first, wrong = case_with_a_wrong_duplicate
    if corrected:
        _apply(deduper, _correction(Verdict.not_same_case, wrong, first))
    # e-2 reported only ``wrong``: their chaser is about its case, whichever that is now.
    chaser = _judged(deduper, _report("Any news? Has anyone called her back yet?", 60, "e-2"))
    assert chaser.dedupe.duplicate_of == (wrong if corrected else first).signal.signal_id


def _label(routed: RoutedSignal, destination: str | None) -> Label:
    return Label(
        label_id=label_id_for(routed.signal.signal_id),
        signal_id=routed.signal.signal_id,
        kind=Kind.complaint if destination else Kind.other,
        category=Category.payments_cards,
        urgency=Urgency.high,
        destination=destination,
        text=routed.signal.text,
        language="en",
        channel=routed.signal.channel,
        guess=routed.classification,
        operator_ref="ref-op-1",
        labelled_at=T0 + timedelta(minutes=2),
    )


def test_a_triage_case_sent_to_the_desk_takes_its_later_reports_along() -> None:
    deduper = Deduper({}, POLICY)
    unsure = _judged(deduper, _report(CARD, 0, "e-1", JAN), confidence=0.3)
    assert unsure.destination.name == "triage"
    effect = _apply(deduper, _label(unsure, "servicedesk"))
    assert effect.what == "routed_case"
    later = _judged(deduper, _report(CARD, 5, "e-2"))
    assert later.dedupe.duplicate_of == unsure.signal.signal_id
    assert later.destination.name == "servicedesk"  # a note on the ticket, not triage


def test_a_label_without_destination_leaves_the_case_in_triage() -> None:
    deduper = Deduper({}, POLICY)
    unsure = _judged(deduper, _report(CARD, 0, "e-1", JAN), confidence=0.3)
    effect = _apply(deduper, _label(unsure, None))
    assert effect.what == "recorded"
    later = _judged(deduper, _report(CARD, 5, "e-2"))
    assert later.destination.name == "triage"


def test_the_cases_made_by_corrections_are_bounded_and_forgotten_after_the_window(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(corrections, "CASE_CAP", 3)
    deduper = Deduper({}, POLICY)
    made = []
    for n in range(5):  # each a wrong duplicate, split off by an operator
        customer = {"name": f"Klant {n}", "phone": f"+31 6 1234500{n}"}
        first = _judged(deduper, _report(CARD, n * 10, "e-1", customer))
        wrong = _judged(deduper, _report(f"Card {n} never arrived.", n * 10 + 1, "e-2", customer))
        _apply(deduper, _correction(Verdict.not_same_case, wrong, first, minutes=n * 10 + 2))
        made.append(wrong.signal.signal_id)
    listed = [case for case, _ in deduper.memory[CORRECTED_CASES]["entries"]]
    assert listed == made[-3:]
    assert all(f"cluster:{case}" not in deduper.memory for case in made[:2])
    # Three weeks later, one more correction forgets the cases older than the window.
    customer = {"name": "Laat", "phone": "+31 6 99999999"}
    later = T0 + POLICY.window + timedelta(days=7)
    first = _judged(
        deduper, _report(CARD, later_minutes := (later - T0).total_seconds() / 60, "e-1", customer)
    )
    wrong = _judged(deduper, _report("Late card.", later_minutes + 1, "e-2", customer))
    _apply(deduper, _correction(Verdict.not_same_case, wrong, first, minutes=later_minutes + 2))
    assert [case for case, _ in deduper.memory[CORRECTED_CASES]["entries"]] == [
        wrong.signal.signal_id
    ]
    assert all(f"cluster:{case}" not in deduper.memory for case in made)


def test_pairs_become_rows_of_the_labelled_dedupe_set() -> None:
    deduper = Deduper({}, POLICY)
    jan = _judged(deduper, _report(CARD, 0, "e-1", JAN))
    wrong = _judged(deduper, _report("Jan's new card never arrived by post.", 5, "e-2", JAN))
    piet = _judged(deduper, _report("Piet: partner's card fails.", 7, "e-3", PIET))
    rows = dedupe_rows(
        [
            _correction(Verdict.same_case, piet, jan, minutes=40),
            _correction(Verdict.not_same_case, wrong, jan, minutes=30, operator="ref-op-2"),
        ]
    )
    assert [row["id"] for row in rows] == [
        jan.signal.signal_id,
        wrong.signal.signal_id,
        piet.signal.signal_id,
    ]  # arrival order
    cases = {row["id"]: row["case"] for row in rows}
    assert (
        cases[jan.signal.signal_id]
        == cases[piet.signal.signal_id]
        == ("corr-" + jan.signal.signal_id)
    )
    assert cases[wrong.signal.signal_id] == "corr-" + wrong.signal.signal_id
    shipped = json.loads(DEDUPE_FILE.read_text().splitlines()[0])
    for row in rows:
        assert set(shipped) <= set(row)  # every field the dedupe set has
        assert set(row["customer"]) == set(shipped["customer"])
        assert row["reported_at"].endswith("Z")
    assert rows[0]["customer"]["phone"] == JAN["phone"]
    assert rows[0]["reporter"] == "e-1"


def test_same_case_is_transitive_and_wins_over_a_contradiction() -> None:
    deduper = Deduper({}, POLICY)
    a, b, c = (
        _judged(deduper, _report(f"Report {n} about a card.", n, f"e-{n}", {"name": f"K{n}"}))
        for n in range(3)
    )
    rows = dedupe_rows(
        [
            _correction(Verdict.same_case, b, a, minutes=10),
            _correction(Verdict.same_case, c, b, minutes=11),
            _correction(Verdict.not_same_case, c, a, minutes=12),
        ]
    )
    assert len({row["case"] for row in rows}) == 1


def test_the_judge_stage_tells_a_forwarded_label_from_a_correction() -> None:
    """Both arrive on one internal topic: the key's prefix, not the shape, says which."""
    deduper = Deduper({}, POLICY)
    jan = _judged(deduper, _report(CARD, 0, "e-1", JAN))
    wrong = _judged(deduper, _report("Jan's new card never arrived by post.", 5, "e-2", JAN))
    correction = _correction(Verdict.not_same_case, wrong, jan)
    label = _label(jan, "servicedesk")
    assert read_decision(CORRECTION_PREFIX + b"k", correction.model_dump_json().encode()) == (
        correction
    )
    assert read_decision(LABEL_PREFIX + b"k", label.model_dump_json().encode()) == label
    with pytest.raises(ValueError):
        read_decision(b"k", label.model_dump_json().encode())
    with pytest.raises(ValueError):  # a ValidationError is a ValueError
        read_decision(LABEL_PREFIX + b"k", correction.model_dump_json().encode())
