"""A signal after the processor has judged it: what it is, whether it is new, where it goes."""

from __future__ import annotations

from pydantic import Field

from schemas.classification import Classification
from schemas.signal import SCHEMA_VERSION, Contract, Signal, SignalId, UtcDatetime


class Dedupe(Contract):
    duplicate_of: SignalId | None = None
    cluster_id: str
    reporters_count: int = Field(ge=1, default=1)


class Destination(Contract):
    """Where a routed signal goes: a destination name (servicedesk, crm, triage) and its
    queue, pipeline or owner inside that system."""

    name: str = Field(min_length=1, max_length=100)
    target: str | None = Field(default=None, max_length=200)


class RoutedSignal(Contract):
    schema_version: int = SCHEMA_VERSION
    signal: Signal
    classification: Classification
    dedupe: Dedupe
    destination: Destination
    rule_id: str
    routed_at: UtcDatetime
