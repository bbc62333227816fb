"""What the processor decided a signal is."""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field

from schemas.signal import Contract


class Kind(StrEnum):
    complaint = "complaint"
    opportunity = "opportunity"
    other = "other"


class Urgency(StrEnum):
    low = "low"
    normal = "normal"
    high = "high"


class Category(StrEnum):
    payments_cards = "payments_cards"
    mortgage_loans = "mortgage_loans"
    insurance_claims = "insurance_claims"
    energy = "energy"
    internet_telecom = "internet_telecom"
    invoice_billing = "invoice_billing"
    delivery = "delivery"
    app_website = "app_website"
    service_waiting = "service_waiting"
    other = "other"


class Classification(Contract):
    kind: Kind
    confidence: float = Field(ge=0.0, le=1.0)
    category: Category = Category.other
    urgency: Urgency = Urgency.normal
    language: str = Field(max_length=8)
    reasons: list[str] = Field(default_factory=list)
    classifier_version: str
