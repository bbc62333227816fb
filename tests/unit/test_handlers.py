from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest

from schemas import Category, Classification, Kind, topics
from services.processor.classifier.split import load_labelled
from services.processor.domain.dedupe import Deduper
from services.processor.domain.route import DEFAULT_RULES
from services.processor.handlers import (
    InvalidSignal,
    assess,
    assess_many,
    decode_classified,
    decode_signal,
    judge,
)

NOW = datetime(2025, 3, 14, 10, 0, 5, tzinfo=UTC)


@pytest.mark.parametrize("value", [b"", None])
def test_decode_rejects_an_empty_message(value) -> None:
    with pytest.raises(InvalidSignal, match="empty message"):
        decode_signal(value)


def test_decode_rejects_something_that_is_not_json() -> None:
    with pytest.raises(InvalidSignal, match="not a valid Signal"):
        decode_signal(b"not json")


def test_invalid_signal_is_a_value_error() -> None:
    assert issubclass(InvalidSignal, ValueError)


def test_decode_names_the_missing_fields(make_signal) -> None:
    data = json.loads(make_signal().model_dump_json())
    del data["text"]
    del data["signal_id"]
    with pytest.raises(InvalidSignal) as info:
        decode_signal(json.dumps(data).encode())
    message = str(info.value)
    assert "text: Field required" in message
    assert "signal_id: Field required" in message
    assert "received_at" not in message


def test_decode_names_a_nested_field(make_signal) -> None:
    data = json.loads(make_signal().model_dump_json())
    data["reporter"]["email"] = "not-an-email"
    with pytest.raises(InvalidSignal, match=r"reporter\.email"):
        decode_signal(json.dumps(data).encode())


def test_decode_returns_the_signal(make_signal) -> None:
    signal = make_signal()
    assert decode_signal(signal.model_dump_json().encode()) == signal


def _classified(
    kind: Kind, category: Category = Category.payments_cards, confidence: float = 0.9
) -> Classification:
    return Classification(
        kind=kind,
        confidence=confidence,
        category=category,
        language="en",
        classifier_version="test-1",
    )


@pytest.mark.parametrize(
    ("kind", "destination", "topic"),
    [
        (Kind.complaint, "servicedesk", topics.ROUTED_SERVICEDESK),
        (Kind.opportunity, "crm", topics.ROUTED_CRM),
        (Kind.other, "triage", topics.TRIAGE),
    ],
)
def test_judge_routes_a_new_case_by_the_rules(make_signal, kind, destination, topic) -> None:
    signal = make_signal()
    judgement = judge(signal, _classified(kind), Deduper({}), DEFAULT_RULES, NOW)
    assert judgement.topic == topic
    assert judgement.routed is not None
    assert judgement.routed.destination.name == destination
    assert judgement.routed.dedupe.duplicate_of is None
    assert judgement.routed.dedupe.cluster_id == signal.signal_id
    assert judgement.routed.routed_at == NOW
    assert judgement.routed.signal == signal


def test_judge_drops_a_resubmission(make_signal) -> None:
    deduper = Deduper({})
    judge(
        make_signal(idempotency_key="k-1"), _classified(Kind.complaint), deduper, DEFAULT_RULES, NOW
    )
    again = judge(
        make_signal(idempotency_key="k-1", text="Other words, same key."),
        _classified(Kind.complaint),
        deduper,
        DEFAULT_RULES,
        NOW,
    )
    assert again.topic is None
    assert again.routed is None
    assert again.decision.resubmission


def test_judge_sends_a_duplicate_where_its_case_went(make_signal) -> None:
    deduper = Deduper({})
    customer = {"name": "Jan de Vries", "phone": "06-12345678"}
    first = make_signal(idempotency_key="a", customer=customer)
    judged = judge(first, _classified(Kind.complaint), deduper, DEFAULT_RULES, NOW)
    second = make_signal(
        idempotency_key="b",
        text="Card of J. de Vries still blocked",
        customer={"name": "J. de Vries"},
        reporter={"employee_id": "E-2002"},
    )
    dup = judge(
        second, _classified(Kind.complaint), deduper, DEFAULT_RULES, NOW + timedelta(hours=3)
    )
    assert judged.topic == topics.ROUTED_SERVICEDESK
    assert dup.topic == topics.DUPLICATES
    assert dup.routed is not None
    assert dup.routed.destination.name == "servicedesk"
    assert dup.routed.dedupe.duplicate_of == first.signal_id
    assert dup.routed.dedupe.reporters_count == 2
    assert dup.routed.rule_id == "duplicate"
    # Kafka keys: a new case by its own id, a duplicate by its case's (contract 3).
    assert judged.key == first.signal_id.encode()
    assert dup.key == first.signal_id.encode() != second.signal_id.encode()


def test_judge_stores_now_in_utc(make_signal) -> None:
    local = datetime(2025, 3, 14, 12, 0, tzinfo=timezone(timedelta(hours=2)))
    routed = judge(
        make_signal(), _classified(Kind.complaint), Deduper({}), DEFAULT_RULES, local
    ).routed
    assert routed is not None
    assert routed.routed_at == datetime(2025, 3, 14, 10, 0, tzinfo=UTC)
    assert routed.routed_at.tzinfo == UTC


@pytest.mark.parametrize(
    ("subject", "text", "kind"),
    [
        ("Offerte zonnepanelen", "Graag morgen terugbellen.", Kind.opportunity),
        ("Klacht: pinpas geweigerd", "Kunt u haar terugbellen?", Kind.complaint),
    ],
)
def test_classify_signal_reads_the_subject_too(make_signal, subject, text, kind) -> None:
    """The text alone says little; only the subject makes it this kind."""
    with_subject = assess(make_signal(subject=subject, text=text)).classification
    without = assess(make_signal(subject=None, text=text)).classification
    assert with_subject.kind is kind
    assert (without.kind, without.category) != (with_subject.kind, with_subject.category)


def test_the_hand_over_carries_the_matter_and_reads_without_it(make_signal) -> None:
    """The classify stage profiles what a report is about (a chaser, its words) from the
    text the classifier reads; the judge stage gets it over Kafka. A hand-over written
    before matter profiles (no "matter") still reads: dedupe uses the raw text then."""
    chaser = make_signal(
        text="Has anyone called him back yet?\n\n--\nYvonne, tel 020 1234567",
        customer={"name": "Steven Baker"},
    )
    handover = assess(chaser)
    assert handover.matter is not None and handover.matter.chaser
    assert "baker" not in handover.matter.terms  # the customer's name is no matter
    again = decode_classified(handover.model_dump_json().encode())
    assert again == handover
    old = json.loads(handover.model_dump_json())
    del old["matter"]
    assert decode_classified(json.dumps(old).encode()).matter is None


def test_a_batch_is_assessed_as_each_signal_alone(make_signal) -> None:
    """The classify stage assesses a batch at once (``assess_many``, as the processor and
    the offline commands do); each signal's classification, topic profile and matter are
    exactly what it gets alone, on every labelled row (issue #9: faster, same decisions)."""
    signals = [
        make_signal(
            text=row.text,
            channel=row.channel,
            language=row.language if i % 2 else None,
            customer={"name": "Jan de Vries"} if i % 3 == 0 else None,
        )
        for i, row in enumerate(load_labelled())
    ]
    batched = [a for i in range(0, len(signals), 64) for a in assess_many(signals[i : i + 64])]
    assert batched == [assess(signal) for signal in signals]
