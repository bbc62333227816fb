"""Where a classified signal goes. Pure: the processor and the CLI share it."""

from __future__ import annotations

from dataclasses import dataclass

from schemas import Classification, Kind, topics


@dataclass(frozen=True)
class Route:
    destination: str
    topic: str
    rule_id: str


TRIAGE = Route("triage", topics.TRIAGE, "default-triage")


def route(classification: Classification, min_confidence: float) -> Route:
    """Complaints go to the service desk, opportunities to the CRM; anything unsure or
    neither goes to triage, because a wrong guess reaches a customer-facing system."""
    if classification.confidence < min_confidence:
        return Route("triage", topics.TRIAGE, "low-confidence")
    if classification.kind is Kind.complaint:
        return Route("servicedesk", topics.ROUTED_SERVICEDESK, "complaints-to-servicedesk")
    if classification.kind is Kind.opportunity:
        return Route("crm", topics.ROUTED_CRM, "opportunities-to-crm")
    return TRIAGE
