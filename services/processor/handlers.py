"""What the processor does with one message. Pure: the Faust agents and the offline
CLI call these; no broker, no clock (``now`` is passed in)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from pydantic import ValidationError

from schemas import Dedupe, Destination, RoutedSignal, Signal
from services.processor.domain.classify import classify
from services.processor.domain.route import Route, route


class InvalidSignal(ValueError):
    pass


def decode_signal(value: bytes | None) -> Signal:
    if not value:
        raise InvalidSignal("empty message")
    try:
        return Signal.model_validate_json(value)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '<message>'}: {e['msg']}" for e in exc.errors()
        )
        raise InvalidSignal(f"not a valid Signal: {problems}") from exc


@dataclass(frozen=True)
class Judgement:
    route: Route
    routed: RoutedSignal


def judge(signal: Signal, now: datetime, min_confidence: float) -> Judgement:
    classification = classify(signal.text, signal.language)
    decision = route(classification, min_confidence)
    routed = RoutedSignal(
        signal=signal,
        classification=classification,
        dedupe=Dedupe(cluster_id=signal.signal_id),
        destination=Destination(name=decision.destination),
        rule_id=decision.rule_id,
        routed_at=now,
    )
    return Judgement(decision, routed)
