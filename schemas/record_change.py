"""A change a destination reported about one of its records, before its case is known."""

from __future__ import annotations

from pydantic import Field

from schemas.signal import SCHEMA_VERSION, Contract, UtcDatetime


class RecordChange(Contract):
    """A verified webhook event that names a record but not its case (HubSpot's deal
    events carry only the deal's id). On signals.record-changes, keyed by ``record_id``.

    Ingest holds no vendor credentials, so it only verifies and passes the change on; the
    connector of ``destination`` looks the record up in its system, finds the case, and
    publishes the Outcome."""

    schema_version: int = SCHEMA_VERSION
    vendor: str = Field(min_length=1, max_length=100, description="hubspot, ...")
    destination: str = Field(min_length=1, max_length=100, description="crm, servicedesk")
    record_id: str = Field(min_length=1, max_length=200, description="e.g. the deal's id")
    field: str = Field(min_length=1, max_length=200, description="e.g. dealstage")
    value: str = Field(max_length=200, description="the field's new value, e.g. a stage id")
    changed_at: UtcDatetime = Field(description="When the field changed at the source")
    event_id: str = Field(
        min_length=1,
        max_length=255,
        description="The change's id, the same for every delivery of it; becomes the "
        "Outcome's event_id",
    )
    observed_at: UtcDatetime = Field(description="When Antenna received the change")
