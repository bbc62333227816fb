"""What became of a case in its destination, as the destination reports it."""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field

from schemas.signal import SCHEMA_VERSION, Contract, SignalId, UtcDatetime


class OutcomeStatus(StrEnum):
    # A service desk's ticket
    opened = "opened"
    in_progress = "in_progress"
    resolved = "resolved"
    closed = "closed"
    # A CRM's lead or opportunity
    won = "won"
    lost = "lost"


class Outcome(Contract):
    """One change of a record's status in its destination. On signals.outcomes, keyed by
    ``case_id`` (the same key, and so the same partition, as the case's routed event).

    Sources publish a change at least once and in no particular order: consumers fold
    outcomes with ``services.common.outcomes.fold_outcome`` (one per ``event_id``, the
    latest by ``changed_at`` is current)."""

    schema_version: int = SCHEMA_VERSION
    case_id: SignalId = Field(
        description="The signal_id of the case's first report (its Dedupe.cluster_id)"
    )
    status: OutcomeStatus
    changed_at: UtcDatetime = Field(
        description="When the status changed at the source: outcomes are ordered by this "
        "time, not by when they arrive"
    )
    record_id: str = Field(min_length=1, max_length=200, description="The ticket or lead id")
    record_url: str | None = Field(default=None, max_length=2000)
    destination: str = Field(min_length=1, max_length=100, description="servicedesk, crm")
    connector: str = Field(min_length=1, max_length=100, description="request_tracker, ...")
    event_id: str = Field(
        min_length=1,
        max_length=255,
        description="The source's id of this change (a webhook's event id; a poller's id "
        "derived from record, status and time): the same change seen twice has one id",
    )
    observed_at: UtcDatetime = Field(description="When Antenna learnt of the change")
