from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest

from schemas import Kind
from services.processor.domain.classify import classify
from services.processor.domain.route import route
from services.processor.handlers import InvalidSignal, decode_signal, judge
from services.processor.settings import ProcessorSettings

MIN_CONFIDENCE: float = ProcessorSettings.model_fields["min_confidence"].default
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


@pytest.mark.parametrize(
    ("text", "destination"),
    [
        ("The customer is furious, her bank card was declined again.", "servicedesk"),
        ("He is interested in solar panels and would like a quote.", "crm"),
        ("She asked what the opening hours are.", "triage"),
    ],
)
def test_judge_builds_a_routed_signal_that_matches_the_route(
    make_signal, text, destination
) -> None:
    signal = make_signal(text=text)
    judgement = judge(signal, NOW, MIN_CONFIDENCE)
    expected = route(classify(text), MIN_CONFIDENCE)
    assert judgement.route == expected
    assert judgement.route.destination == destination
    routed = judgement.routed
    assert routed.destination.name == expected.destination
    assert routed.rule_id == expected.rule_id
    assert routed.routed_at == NOW
    assert routed.signal == signal
    assert routed.classification == classify(text)
    assert routed.dedupe.cluster_id == signal.signal_id
    assert routed.dedupe.duplicate_of is None


def test_judge_uses_the_language_hint(make_signal) -> None:
    signal = make_signal(text="The customer is angry about the invoice", language="nl")
    routed = judge(signal, NOW, MIN_CONFIDENCE).routed
    assert routed.classification.language == "nl"
    assert routed.classification.kind is Kind.complaint


def test_judge_stores_now_in_utc(make_signal) -> None:
    cet = timezone(timedelta(hours=1))
    routed = judge(
        make_signal(), datetime(2025, 3, 14, 11, 0, 5, tzinfo=cet), MIN_CONFIDENCE
    ).routed
    assert routed.routed_at == NOW
    assert routed.routed_at.tzinfo is UTC


def test_judge_respects_the_threshold(make_signal) -> None:
    signal = make_signal(text="The customer is furious, her bank card was declined again.")
    judgement = judge(signal, NOW, min_confidence=0.99)
    assert judgement.route.rule_id == "low-confidence"
    assert judgement.routed.destination.name == "triage"
