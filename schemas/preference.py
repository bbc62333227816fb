"""What an employee wants to hear back. On the compacted topic employees.preferences,
keyed by ``employee_id``; a record without a value (a tombstone) restores the default."""

from __future__ import annotations

from pydantic import Field

from schemas.signal import SCHEMA_VERSION, Contract, UtcDatetime


class NotificationPreference(Contract):
    schema_version: int = SCHEMA_VERSION
    employee_id: str = Field(
        min_length=1,
        max_length=320,
        description="As in Reporter.employee_id; for someone known only by e-mail (mail "
        "reports), that address. Also the record's key.",
    )
    notify: bool = Field(
        default=True, description="False: tell this employee nothing (no mail, no chat)"
    )
    updated_at: UtcDatetime
