"""The outcome of handing a routed signal to a target system."""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field

from schemas.signal import SCHEMA_VERSION, Contract, SignalId, UtcDatetime


class DeliveryStatus(StrEnum):
    delivered = "delivered"
    retrying = "retrying"
    failed = "failed"  # gave up after retries on a transient error
    dead = "dead"  # the target refused it for good (4xx, invalid config)


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
