"""What the processor does with one signal. Pure: the Faust agents and the offline CLI
call these; the state is the Deduper's mapping and the clock is passed in."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from schemas import Classification, Dedupe, Destination, RoutedSignal, Signal, topics
from services.processor.classifier import classify_signals, signal_text
from services.processor.classifier.model import TrainedModels, report_text
from services.processor.domain.dedupe import Decision, Deduper
from services.processor.domain.matter import Matter, matter_of, name_words
from services.processor.domain.route import Route, RuleSet, route

M = TypeVar("M", bound=BaseModel)


class InvalidSignal(ValueError):
    pass


def decode_signal(value: bytes | None) -> Signal:
    return _decode(Signal, value)


def decode_classified(value: bytes | None) -> ClassifiedSignal:
    """The classify stage's hand-over, as the judge stage reads it."""
    return _decode(ClassifiedSignal, value)


def _decode(model: type[M], value: bytes | None) -> M:
    if not value:
        raise InvalidSignal("empty message")
    try:
        return model.model_validate_json(value)
    except ValidationError as exc:
        # Where and what, never the input: a message may carry personal data.
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '<message>'}: {e['msg']}" for e in exc.errors()
        )
        raise InvalidSignal(f"not a valid {model.__name__}: {problems}") from exc


def assess(signal: Signal) -> ClassifiedSignal:
    """Classify a signal and profile its topic and matter, for the judge stage."""
    return assess_many([signal])[0]


def assess_many(
    signals: Sequence[Signal], models: TrainedModels | None = None
) -> list[ClassifiedSignal]:
    """``[assess(s) for s in signals]``, in order; the classifier scores the batch at once.
    ``models``: another classifier than the current one (the dedupe evaluation's)."""
    assessed = []
    for signal, (classification, topic) in zip(
        signals, classify_signals(signals, models), strict=True
    ):
        text = signal_text(signal)
        customer = signal.customer.name if signal.customer else None
        matter = matter_of(report_text(text), name_words(customer), text)
        assessed.append(
            ClassifiedSignal(
                signal=signal, classification=classification, topic=topic, matter=matter
            )
        )
    return assessed


@dataclass(frozen=True)
class Judgement:
    """``topic`` is None for a dropped re-submission."""

    topic: str | None
    routed: RoutedSignal | None
    decision: Decision
    route: Route | None

    @property
    def key(self) -> bytes:
        """The Kafka key of the routed event: a duplicate is keyed by its case's
        cluster_id, so that it lands in the partition of the case's routed event (the
        same partition count and partitioner on both topics)."""
        if self.topic == topics.DUPLICATES:
            return self.decision.cluster_id.encode()
        if self.routed is None:
            raise ValueError("a dropped re-submission is not sent")
        return self.routed.signal.signal_id.encode()


def judge(
    signal: Signal,
    classification: Classification,
    deduper: Deduper,
    rules: RuleSet,
    now: datetime,
    topic: dict[str, float] | None = None,
    matter: Matter | None = None,
) -> Judgement:
    decision = deduper.decide(signal, classification, now, topic, matter)
    if decision.resubmission:
        return Judgement(None, None, decision, None)
    if decision.duplicate_of is not None:
        destination = Destination(name=decision.destination or "triage", target=decision.target)
        routed = _routed(signal, classification, decision, destination, "duplicate", now)
        return Judgement(topics.DUPLICATES, routed, decision, None)
    chosen = route(rules, classification, signal)
    decision = deduper.remember_route(decision, chosen.destination, chosen.target)
    destination = Destination(name=chosen.destination, target=chosen.target)
    routed = _routed(signal, classification, decision, destination, chosen.rule_id, now)
    return Judgement(chosen.topic, routed, decision, chosen)


def _routed(
    signal: Signal,
    classification: Classification,
    decision: Decision,
    destination: Destination,
    rule_id: str,
    now: datetime,
) -> RoutedSignal:
    return RoutedSignal(
        signal=signal,
        classification=classification,
        dedupe=Dedupe(
            duplicate_of=decision.duplicate_of,
            cluster_id=decision.cluster_id,
            reporters_count=max(decision.reporters_count, 1),
        ),
        destination=destination,
        rule_id=rule_id,
        routed_at=now,
    )


class ClassifiedSignal(BaseModel):
    """Internal hand-over from the parallel classify stage to the single dedupe stage."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    signal: Signal
    classification: Classification
    topic: dict[str, float] = Field(default_factory=dict)  # category -> weight
    # None in a hand-over written before matter profiles: dedupe reads the raw text then.
    matter: Matter | None = None
