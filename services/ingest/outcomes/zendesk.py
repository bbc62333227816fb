"""Zendesk: a webhook subscribed to ticket events. Pure, no I/O, no clock.

Signature (https://developer.zendesk.com/documentation/webhooks/verifying/):
``X-Zendesk-Webhook-Signature`` = base64(HMAC-SHA256(signing secret, TIMESTAMP + BODY)),
TIMESTAMP being the ``X-Zendesk-Webhook-Signature-Timestamp`` header as sent (an ISO 8601
time such as ``2024-04-17T17:18:10Z``), no separator. A timestamp older than five
minutes is refused as a replay.

Payload (https://developer.zendesk.com/api-reference/webhooks/event-types/ticket-events):
``{"type": "zen:event-type:ticket.status_changed", "id": <event id>, "time": <ISO>,
"detail": {"id": <ticket id>, "external_id": <string>, "status": ...},
"event": {"current": "SOLVED", "previous": "OPEN"}}``. Antenna's tickets carry the case
id as their ``external_id``. ``ticket.created`` gives the status a ticket starts in. The
event's ``id`` is the same for every delivery of it (and for every webhook subscribed to
it), so it is the outcome's event id.

Statuses (Zendesk's ticket statuses, upper case in event payloads):

======================  ============
Zendesk                 Outcome
======================  ============
NEW                     opened
OPEN, PENDING, HOLD     in_progress
SOLVED                  resolved
CLOSED                  closed (final: Zendesk never reopens it)
DELETED, SCRUBBED       closed
ARCHIVED                closed (an old closed ticket)
======================  ============
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import datetime

from schemas import Outcome, OutcomeStatus
from services.ingest.chat import Verdict
from services.ingest.outcomes import (
    REPLAY_WINDOW_S,
    Ignored,
    OutcomePayloadError,
    case_id,
    check_age,
    check_signature,
    field,
    from_iso,
    json_payload,
    text,
)

SIGNATURE_HEADER = "X-Zendesk-Webhook-Signature"
TIMESTAMP_HEADER = "X-Zendesk-Webhook-Signature-Timestamp"
STATUS_CHANGED = "zen:event-type:ticket.status_changed"
CREATED = "zen:event-type:ticket.created"
STATUSES = {
    "new": OutcomeStatus.opened,
    "open": OutcomeStatus.in_progress,
    "pending": OutcomeStatus.in_progress,
    "hold": OutcomeStatus.in_progress,
    "solved": OutcomeStatus.resolved,
    "closed": OutcomeStatus.closed,
    "deleted": OutcomeStatus.closed,
    "scrubbed": OutcomeStatus.closed,
    "archived": OutcomeStatus.closed,
}
DESTINATION, CONNECTOR = "servicedesk", "zendesk"


def outcome_status(value: str) -> OutcomeStatus | None:
    return STATUSES.get(value.strip().lower())


def signature(secret: bytes, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret, timestamp.encode() + body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def sent_at(timestamp: str | None) -> float | None:
    """The signature timestamp as epoch seconds (ISO 8601, or seconds as digits)."""
    if not timestamp or len(timestamp) > 40:
        return None
    if timestamp.isdigit():
        return float(timestamp)
    try:
        return from_iso(timestamp, "timestamp").timestamp()
    except OutcomePayloadError:
        return None


def check_headers(timestamp: str | None, presented: str | None, now: float) -> Verdict:
    """What the headers alone tell, before the body is read."""
    if not timestamp or not presented:
        return Verdict.missing
    return check_age(sent_at(timestamp), now, REPLAY_WINDOW_S)


def verify(
    secret: bytes, body: bytes, timestamp: str | None, presented: str | None, now: float
) -> Verdict:
    verdict = check_headers(timestamp, presented, now)
    if verdict is not Verdict.ok:
        return verdict
    assert timestamp is not None
    return check_signature(signature(secret, timestamp, body), presented)


def parse(body: bytes, observed_at: datetime, link_base: str | None) -> Outcome | Ignored:
    """A verified ticket event as the Outcome of its case."""
    payload = json_payload(body)
    kind = field(payload, "type")
    if kind not in (STATUS_CHANGED, CREATED):
        return Ignored("not_a_status_change")
    case = case_id(field(payload, "detail", "external_id"))
    if case is None:
        return Ignored("not_antennas")
    ticket = text(field(payload, "detail", "id"), "detail.id")
    current = field(payload, "event", "current")
    if isinstance(current, dict):  # ticket.created: {"current": {"status": ...}}
        current = current.get("status")
    raw = current if isinstance(current, str) else field(payload, "detail", "status")
    status = outcome_status(text(raw, "event.current"))
    if status is None:
        return Ignored("unknown_status")
    base = link_base.rstrip("/") if link_base else None
    return Outcome(
        case_id=case,
        status=status,
        changed_at=from_iso(field(payload, "time"), "time"),
        record_id=ticket,
        record_url=f"{base}/agent/tickets/{ticket}" if base and ticket.isdigit() else None,
        destination=DESTINATION,
        connector=CONNECTOR,
        event_id=f"zendesk:{text(field(payload, 'id'), 'id')}",
        observed_at=observed_at,
    )
