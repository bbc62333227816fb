"""The outcome of handing a routed signal to a target system."""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field

from schemas.signal import SCHEMA_VERSION, Contract, SignalId, UtcDatetime


class DeliveryStatus(StrEnum):
    delivered = "delivered"
    # The destination is paused (unreachable, 5xx, 429): the signal waits in order and
    # is tried again. Published when it starts waiting and at most every few minutes.
    retrying = "retrying"
    failed = "failed"  # parked on signals.dlq: the retry horizon passed
    # Parked on signals.dlq for good: a 4xx other than 429, an answer that cannot be
    # understood, or a payload that kept failing while other signals were delivered.
    dead = "dead"


class DeliveryResult(Contract):
    schema_version: int = SCHEMA_VERSION
    signal_id: SignalId
    destination: str
    connector: str
    status: DeliveryStatus
    external_id: str | None = None
    external_url: str | None = None
    attempts: int = Field(ge=0)
    error: str | None = Field(default=None, max_length=2000)
    at: UtcDatetime
    paused_since: UtcDatetime | None = Field(
        default=None,
        description="With status retrying: since when this signal has been waiting for its "
        "destination to answer again.",
    )
    next_attempt_at: UtcDatetime | None = Field(
        default=None, description="With status retrying: when the next attempt is due."
    )
