"""Request Tracker: the status of the tickets Antenna opened, read by polling.

One TicketSQL search per tick (``id = 1 OR id = 2 ...``) reads a page of tickets with
their Status and times. RT never shows a deleted ticket in a search, nor a ticket merged
into another, so a ticket missing from the answer is asked for on its own (rare, and at
most a page of them).

The statuses of RT's default lifecycle (RT 5 ``etc/RT_Config.pm``, ``%Lifecycles``):

=========  ===============  ==============================================
RT         Outcome          why
=========  ===============  ==============================================
new        opened           nobody has worked on it yet
open       in_progress      an agent took it up (RT: "active")
stalled    in_progress      waiting, e.g. on the customer: still active
resolved   resolved         done; RT reopens it when the requestor replies
rejected   closed           ended without a resolution
deleted    closed           gone; only an administrator brings it back
=========  ===============  ==============================================

A status of a custom lifecycle is not reported (None): Antenna cannot tell whether it
means active or done."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import httpx

from schemas import OutcomeStatus
from services.connectors.http import json_object, request
from services.connectors.outcomes import RecordStatus

STATUSES = {
    "new": OutcomeStatus.opened,
    "open": OutcomeStatus.in_progress,
    "stalled": OutcomeStatus.in_progress,
    "resolved": OutcomeStatus.resolved,
    "rejected": OutcomeStatus.closed,
    "deleted": OutcomeStatus.closed,
}
FIELDS = "Status,Created,LastUpdated,Resolved"
NOT_SET = datetime(1970, 1, 1, tzinfo=UTC)  # RT's answer for a time never set


def outcome_status(rt_status: str) -> OutcomeStatus | None:
    return STATUSES.get(rt_status.strip().lower())


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)  # RT answers UTC
    return None if moment <= NOT_SET else moment


def record_status(ticket: dict[str, Any]) -> RecordStatus | None:
    """A ticket (with FIELDS) as a RecordStatus. RT keeps the time of a resolution
    (Resolved) and of the creation; for any other status the last update is the closest
    time it tells, and never earlier than the change."""
    status = outcome_status(str(ticket.get("Status") or ""))
    if status is None:
        return None
    resolved, created = _time(ticket.get("Resolved")), _time(ticket.get("Created"))
    updated = _time(ticket.get("LastUpdated"))
    at: datetime | None
    if status is OutcomeStatus.resolved and resolved is not None:
        at = resolved
    elif status is OutcomeStatus.opened and created is not None:
        at = created
    else:
        at = updated or created
    return RecordStatus(status, at) if at is not None else None


def search_query(ticket_ids: Sequence[str]) -> str:
    """TicketSQL for one read of these tickets. Ids are numbers: nothing to quote."""
    return " OR ".join(f"id = {int(ticket_id)}" for ticket_id in ticket_ids)


async def read_statuses(
    client: httpx.AsyncClient, ticket_ids: Sequence[str]
) -> dict[str, RecordStatus]:
    ticket_ids = [t for t in ticket_ids if t.isdigit()]  # RT's ids; anything else is not one
    if not ticket_ids:
        return {}
    response = await request(
        client,
        "GET",
        "tickets",
        params={"query": search_query(ticket_ids), "fields": FIELDS, "per_page": len(ticket_ids)},
    )
    found: dict[str, RecordStatus] = {}
    for ticket in json_object(response).get("items") or []:
        status = record_status(ticket) if isinstance(ticket, dict) else None
        if status is not None and ticket.get("id") is not None:
            found[str(ticket["id"])] = status
    for ticket_id in ticket_ids:
        if ticket_id in found:
            continue
        # Deleted, merged into another ticket, or out of our rights: ask for it alone.
        alone = await request(client, "GET", f"ticket/{int(ticket_id)}", accept=(403, 404))
        if alone.status_code == 200:
            status = record_status(json_object(alone))
            if status is not None:
                found[ticket_id] = status
    return found
