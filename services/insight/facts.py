"""What the insight app keeps of each event: facts with nothing about a customer. Pure.

The first stage reads the case topics (routed, triage, duplicates, delivered, outcomes)
and turns each event into one fact; only facts travel on to the single-partition stage
that counts. A fact carries no text, no customer and no employee id or address: the
reporter is known by ``reporter_ref`` (schemas/insight.py) only.

signals.raw is not read: every report the processor keeps reaches exactly one of the
routed, triage or duplicates topics with its classification, so counting there counts
each report once, with its kind, and never a re-submission the processor dropped."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from schemas import DeliveryResult, DeliveryStatus, Outcome, RoutedSignal, topics
from schemas.insight import reporter_ref
from schemas.preference import preference_key

MAX_DEPARTMENT_CHARS = 100
ROUTED_TOPICS = frozenset(
    {topics.ROUTED_SERVICEDESK, topics.ROUTED_CRM, topics.TRIAGE, topics.DUPLICATES}
)
INPUTS = (*sorted(ROUTED_TOPICS), topics.DELIVERED, topics.OUTCOMES)


class _Fact(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Report(_Fact):
    """One employee's report: what is counted per week, per department and per case."""

    fact: Literal["report"] = "report"
    signal_id: str
    case_id: str  # the case's first report's signal_id (its cluster_id)
    received_at: AwareDatetime  # the tables keep it as UTC (tally.py)
    channel: str
    kind: str
    category: str
    department: str = ""  # empty: not given
    # The reporter's refs: employee id first, then e-mail; the first one counts as the
    # person in participation, any of them may carry a credit.
    refs: tuple[str, ...] = ()
    destination: str


class Record(_Fact):
    """A case's own ticket or lead exists (a duplicate's note names no case)."""

    fact: Literal["record"] = "record"
    signal_id: str
    at: AwareDatetime


class Change(_Fact):
    """A change of a case's record at its destination."""

    fact: Literal["outcome"] = "outcome"
    outcome: Outcome


Fact = Annotated[Report | Record | Change, Field(discriminator="fact")]


class Envelope(_Fact):
    """How a fact travels on the internal facts topic."""

    fact: Fact


def department(value: str | None) -> str:
    """A reporter's free-text department, tidied: runs of white space are one space."""
    if not value:
        return ""
    return " ".join(value.split())[:MAX_DEPARTMENT_CHARS]


def refs_of(employee_id: str | None, email: str | None) -> tuple[str, ...]:
    keys = dict.fromkeys(preference_key(name) for name in (employee_id, email) if name)
    return tuple(reporter_ref(key) for key in keys if key)


def report_of(routed: RoutedSignal) -> Report:
    signal = routed.signal
    return Report(
        signal_id=signal.signal_id,
        case_id=routed.dedupe.cluster_id,
        received_at=signal.received_at,
        channel=signal.channel.value,
        kind=routed.classification.kind.value,
        category=routed.classification.category.value,
        department=department(signal.reporter.department),
        refs=refs_of(signal.reporter.employee_id, signal.reporter.email),
        destination=routed.destination.name,
    )


def read_fact(topic: str, value: bytes | None) -> Report | Record | Change | None:
    """The fact an event on ``topic`` brings, or None when it brings nothing to count (a
    delivery still waiting, or set aside). ValidationError when the event is not what the
    topic carries."""
    if topic == topics.DELIVERED:
        result = DeliveryResult.model_validate_json(value or b"")
        if result.status is not DeliveryStatus.delivered:
            return None
        return Record(signal_id=result.signal_id, at=result.at)
    if topic == topics.OUTCOMES:
        return Change(outcome=Outcome.model_validate_json(value or b""))
    if topic in ROUTED_TOPICS:
        return report_of(RoutedSignal.model_validate_json(value or b""))
    raise ValueError(f"not an input of the insight app: {topic}")


def encode(fact: Report | Record | Change) -> bytes:
    return Envelope(fact=fact).model_dump_json().encode()


def decode(value: bytes | None) -> Report | Record | Change:
    """ValidationError when ``value`` is not an envelope."""
    return Envelope.model_validate_json(value or b"").fact
