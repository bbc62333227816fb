"""A message that could not be processed, parked on signals.dlq with the reason."""

from __future__ import annotations

from pydantic import Field

from schemas.delivery import DeliveryStatus
from schemas.signal import SCHEMA_VERSION, Contract, UtcDatetime


class DeadLetter(Contract):
    schema_version: int = SCHEMA_VERSION
    stage: str = Field(description="Which service gave up: processor, connectors, ...")
    error: str = Field(max_length=2000)
    topic: str
    partition: int
    offset: int
    key: str | None = None
    payload: str = Field(description="The original value, decoded as UTF-8 with replacement")
    at: UtcDatetime
    # Set by the connectors for a delivery that was given up; `antenna dlq` filters on it.
    destination: str | None = Field(default=None, description="Where delivery was given up")
    status: DeliveryStatus | None = Field(
        default=None, description="The delivery status it was parked with: failed or dead"
    )
    replay_of: str | None = Field(
        default=None,
        description="The id (partition-offset on signals.dlq) of the letter whose replay "
        "was parked again",
    )
