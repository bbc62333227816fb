"""One signal_id (derived from an Idempotency-Key) with two different bodies: the second
record is not routed, whatever it says; the same body again is a redelivery and is."""

from __future__ import annotations

from datetime import UTC, datetime

from schemas import Category, Classification, Kind, signal_id_for, topics
from services.processor.domain.dedupe import Deduper
from services.processor.domain.route import DEFAULT_RULES
from services.processor.handlers import judge
from tests.support.builders import build_signal

NOW = datetime(2025, 3, 14, 10, 0, tzinfo=UTC)
SIGNAL_ID = signal_id_for("api-key-0123456789", "form-4711")


def _classified(kind: Kind) -> Classification:
    return Classification(
        kind=kind,
        confidence=0.95,
        category=Category.payments_cards if kind is Kind.complaint else Category.mortgage_loans,
        language="en",
        classifier_version="test",
    )


def test_a_second_body_under_one_signal_id_is_not_routed() -> None:
    deduper = Deduper({})
    first = build_signal(
        signal_id=SIGNAL_ID, idempotency_key="form-4711", body_fingerprint="a" * 64
    )
    other = build_signal(
        signal_id=SIGNAL_ID,
        idempotency_key="form-4711",
        body_fingerprint="b" * 64,
        text="My neighbour would like an offer for a mortgage.",
    )
    routed = judge(first, _classified(Kind.complaint), deduper, DEFAULT_RULES, NOW)
    assert routed.topic == topics.ROUTED_SERVICEDESK
    # Classified otherwise, it would go to the CRM: it must go nowhere.
    again = judge(other, _classified(Kind.opportunity), deduper, DEFAULT_RULES, NOW)
    assert again.topic is None and again.routed is None
    assert again.decision.resubmission


def test_the_same_body_again_is_a_redelivery_and_is_handed_on_again() -> None:
    deduper = Deduper({})
    signal = build_signal(signal_id=SIGNAL_ID, body_fingerprint="a" * 64)
    first = judge(signal, _classified(Kind.complaint), deduper, DEFAULT_RULES, NOW)
    again = judge(signal, _classified(Kind.complaint), deduper, DEFAULT_RULES, NOW)
    assert again.topic == first.topic == topics.ROUTED_SERVICEDESK
    assert again.decision == first.decision
