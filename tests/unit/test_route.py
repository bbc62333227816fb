from __future__ import annotations

import pytest

from schemas import Classification, Kind, topics
from services.processor.domain.route import route
from services.processor.settings import ProcessorSettings

MIN_CONFIDENCE: float = ProcessorSettings.model_fields["min_confidence"].default


def _classified(kind: Kind, confidence: float = 0.9) -> Classification:
    return Classification(
        kind=kind, confidence=confidence, language="en", classifier_version="test-1"
    )


@pytest.mark.parametrize(
    ("kind", "destination", "topic", "rule_id"),
    [
        (Kind.complaint, "servicedesk", "signals.routed.servicedesk", "complaints-to-servicedesk"),
        (Kind.opportunity, "crm", "signals.routed.crm", "opportunities-to-crm"),
        (Kind.other, "triage", "signals.triage", "default-triage"),
    ],
)
def test_confident_signals_are_routed_by_kind(kind, destination, topic, rule_id) -> None:
    decision = route(_classified(kind), MIN_CONFIDENCE)
    assert (decision.destination, decision.topic, decision.rule_id) == (destination, topic, rule_id)


def test_topics_match_the_published_contract() -> None:
    assert topics.ROUTED_SERVICEDESK == "signals.routed.servicedesk"
    assert topics.ROUTED_CRM == "signals.routed.crm"
    assert topics.TRIAGE == "signals.triage"
    assert topics.ROUTED_BY_DESTINATION == {
        "servicedesk": topics.ROUTED_SERVICEDESK,
        "crm": topics.ROUTED_CRM,
    }


@pytest.mark.parametrize("kind", [Kind.complaint, Kind.opportunity, Kind.other])
def test_low_confidence_goes_to_triage(kind: Kind) -> None:
    decision = route(_classified(kind, confidence=MIN_CONFIDENCE - 0.01), MIN_CONFIDENCE)
    assert decision.destination == "triage"
    assert decision.topic == topics.TRIAGE
    assert decision.rule_id == "low-confidence"


def test_confidence_exactly_at_the_threshold_is_routed() -> None:
    decision = route(_classified(Kind.complaint, confidence=MIN_CONFIDENCE), MIN_CONFIDENCE)
    assert decision.destination == "servicedesk"


def test_threshold_is_a_parameter() -> None:
    classified = _classified(Kind.opportunity, confidence=0.8)
    assert route(classified, 0.75).destination == "crm"
    assert route(classified, 0.85).rule_id == "low-confidence"
