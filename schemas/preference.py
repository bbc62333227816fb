"""What an employee wants to hear back. On the compacted topic employees.preferences,
keyed by ``employee_id``; a record without a value (a tombstone) restores the default."""

from __future__ import annotations

from pydantic import Field

from schemas.signal import SCHEMA_VERSION, Contract, UtcDatetime


def preference_key(name: str) -> str:
    """An employee's preference key (and ``employee_id``): an e-mail address compares
    without case, an employee id as it is. Writers and readers of the topic use this."""
    name = name.strip()
    return name.lower() if "@" in name else name


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
    credit_name: str | None = Field(
        default=None,
        min_length=1,
        max_length=100,
        description="The name under which the programme's insight page (/insight) may "
        "credit this employee's reports that mattered. Unset: never named there.",
    )
    updated_at: UtcDatetime
