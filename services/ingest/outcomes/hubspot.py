"""HubSpot: an app's webhook subscription to deal stage changes. Pure, no I/O, no clock.

Signature v3 (https://developers.hubspot.com/docs/apps/developer-platform/build-apps/authentication/request-validation;
the official client's hubspot/utils/signature.py does the same):
``X-HubSpot-Signature-v3`` = base64(HMAC-SHA256(the app's client secret,
method + URI + body + timestamp)), the URI being the full URL HubSpot called with its
URL-encoded characters decoded, and ``X-HubSpot-Request-Timestamp`` in milliseconds. A
request older than five minutes is refused.

Payload: a JSON array of events, ``{"eventId", "subscriptionId", "portalId",
"occurredAt" (ms), "subscriptionType", "attemptNumber", "objectId", "propertyName",
"propertyValue", ...}`` - ``deal.propertyChange`` (legacy subscriptions) or
``object.propertyChange`` with ``objectTypeId`` ``0-3`` (deals). Only ``dealstage``
changes matter; they name the deal and the new stage's id, not the case, so each
becomes a RecordChange for the connectors to look up.

HubSpot says ``eventId`` "is not guaranteed to be unique", and the same change can come
from two subscriptions, so the change's id is made from what identifies the change:
account, deal, new stage and the time it happened (``attemptNumber``, which grows with
every retry, is left out)."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import datetime
from typing import Any
from urllib.parse import unquote

from schemas import RecordChange
from services.ingest.chat import Verdict
from services.ingest.outcomes import (
    REPLAY_WINDOW_S,
    OutcomePayloadError,
    check_age,
    check_signature,
    field,
    from_epoch_ms,
    json_payload,
    text,
)

SIGNATURE_HEADER = "X-HubSpot-Signature-v3"
TIMESTAMP_HEADER = "X-HubSpot-Request-Timestamp"
DEAL_STAGE = "dealstage"
DEAL_TYPE_ID = "0-3"
DESTINATION, VENDOR = "crm", "hubspot"
MAX_EVENTS = 1000  # HubSpot sends up to 100 per request


def signature(secret: bytes, method: str, uri: str, body: bytes, timestamp: str) -> str:
    signed = (method.upper() + unquote(uri)).encode() + body + timestamp.encode()
    return base64.b64encode(hmac.new(secret, signed, hashlib.sha256).digest()).decode()


def sent_at(timestamp: str | None) -> float | None:
    if not timestamp or not timestamp.isdigit() or len(timestamp) > 16:
        return None
    return int(timestamp) / 1000


def check_headers(timestamp: str | None, presented: str | None, now: float) -> Verdict:
    """What the headers alone tell, before the body is read."""
    if not timestamp or not presented:
        return Verdict.missing
    return check_age(sent_at(timestamp), now, REPLAY_WINDOW_S)


def verify(
    secret: bytes,
    method: str,
    uri: str,
    body: bytes,
    timestamp: str | None,
    presented: str | None,
    now: float,
) -> Verdict:
    verdict = check_headers(timestamp, presented, now)
    if verdict is not Verdict.ok:
        return verdict
    assert timestamp is not None
    return check_signature(signature(secret, method, uri, body, timestamp), presented)


def _is_stage_change(event: Any) -> bool:
    kind = field(event, "subscriptionType")
    deal = kind == "deal.propertyChange" or (
        kind == "object.propertyChange" and str(field(event, "objectTypeId")) == DEAL_TYPE_ID
    )
    return deal and field(event, "propertyName") == DEAL_STAGE


def parse(body: bytes, observed_at: datetime) -> list[RecordChange]:
    """The deal stage changes in a verified request (other events: none)."""
    events = json_payload(body)
    if not isinstance(events, list):
        raise OutcomePayloadError("the body is not an array of events")
    if len(events) > MAX_EVENTS:
        raise OutcomePayloadError("too many events")
    changes = []
    for position, event in enumerate(events):
        if not _is_stage_change(event):
            continue
        where = f"[{position}]"
        deal = text(field(event, "objectId"), f"{where}.objectId", max_length=20)
        if not deal.isdigit():
            raise OutcomePayloadError(f"{where}.objectId is not a number")
        stage = text(field(event, "propertyValue"), f"{where}.propertyValue", max_length=100)
        occurred = field(event, "occurredAt")
        portal = text(field(event, "portalId"), f"{where}.portalId", max_length=20)
        changed_at = from_epoch_ms(occurred, f"{where}.occurredAt")
        changes.append(
            RecordChange(
                vendor=VENDOR,
                destination=DESTINATION,
                record_id=deal,
                field=DEAL_STAGE,
                value=stage,
                changed_at=changed_at,
                event_id=f"hubspot:{portal}:{deal}:{DEAL_STAGE}:{stage}:{int(float(occurred))}",
                observed_at=observed_at,
            )
        )
    return changes
