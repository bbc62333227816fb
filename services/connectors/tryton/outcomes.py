"""Tryton: the state of the opportunities Antenna created, read by polling.

One ``search_read`` on the page's ids per tick reads each opportunity's ``state`` and
``write_date`` (when the record last changed: a state change writes it).

The states of ``sale.opportunity`` (trytond_sale_opportunity 8.2, opportunity.py):

===========  ============  ====================================================
Tryton       Outcome       why
===========  ============  ====================================================
lead         opened        not qualified yet (Antenna creates it in this state)
opportunity  in_progress   qualified: a salesperson and a party are on it
converted    in_progress   a sale was made from it, not confirmed yet
won          won           its sale was confirmed (set by the sale, no button)
lost         lost          given up, or its sales were cancelled
cancelled    lost          dropped: for the employee, the lead did not become
                           business (the notifier only tells of a win)
===========  ============  ====================================================

Tryton can take an opportunity back (lost -> lead, won -> converted when a sale is
reset), which is why won and lost are polled for a while after the change."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from schemas import OutcomeStatus
from services.connectors.outcomes import RecordStatus

STATES = {
    "lead": OutcomeStatus.opened,
    "opportunity": OutcomeStatus.in_progress,
    "converted": OutcomeStatus.in_progress,
    "won": OutcomeStatus.won,
    "lost": OutcomeStatus.lost,
    "cancelled": OutcomeStatus.lost,
}
FIELDS = ["state", "write_date", "create_date"]
DATETIME_PARTS = ("year", "month", "day", "hour", "minute", "second", "microsecond")


def outcome_status(state: str) -> OutcomeStatus | None:
    return STATES.get(state)


def tryton_datetime(value: Any) -> datetime | None:
    """A datetime as Tryton's JSON encodes it (``{"__class__": "datetime", "year": ...}``,
    naive UTC) or as an ISO string."""
    if isinstance(value, dict) and value.get("__class__") == "datetime":
        try:
            year, month, day, hour, minute, second, micro = (
                int(value.get(part) or 0) for part in DATETIME_PARTS
            )
            moment = datetime(year, month, day, hour, minute, second, micro)
        except (TypeError, ValueError):
            return None
    elif isinstance(value, str) and value:
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return None
    else:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def record_status(row: dict[str, Any]) -> RecordStatus | None:
    status = outcome_status(str(row.get("state") or ""))
    at = tryton_datetime(row.get("write_date")) or tryton_datetime(row.get("create_date"))
    if status is None or at is None:
        return None
    return RecordStatus(status, at)


def statuses_of(rows: Sequence[dict[str, Any]]) -> dict[str, RecordStatus]:
    found = {}
    for row in rows:
        status = record_status(row)
        if status is not None:
            found[str(row["id"])] = status
    return found
