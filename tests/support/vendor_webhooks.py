"""Webhook requests as Zendesk, HubSpot and Jira send them: their payload shapes and their
signatures, computed here from the vendors' documents (not with Antenna's code), so that
a test fails when Antenna verifies differently from the vendor.

- Zendesk: base64(HMAC-SHA256(secret, timestamp + body)), ISO 8601 timestamp header
  (developer.zendesk.com/documentation/webhooks/verifying/); ticket event envelope
  (developer.zendesk.com/api-reference/webhooks/event-types/ticket-events).
- HubSpot: v3, base64(HMAC-SHA256(client secret, method + URI + body + timestamp)),
  timestamp in ms (developers.hubspot.com, "Validating requests"); an array of events.
- Jira: ``sha256=`` + hex HMAC-SHA256(secret, body) in X-Hub-Signature
  (developer.atlassian.com/cloud/jira/platform/webhooks/); jira:issue_updated with a
  status changelog."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from datetime import UTC, datetime
from typing import Any

ZENDESK_SECRET = "dGhpcy1pcy1hLXplbmRlc2stc2lnbmluZy1zZWNyZXQ="
HUBSPOT_SECRET = "7d0e6a0c-1c1f-4f7e-9b7a-hubspot-secret"
JIRA_SECRET = "jira-admin-webhook-secret-0123456789"
PORTAL = 4711


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


# --- Zendesk ----------------------------------------------------------------------------


def zendesk_event(
    case_id: str | None,
    ticket: int,
    status: str,
    at: datetime,
    event_id: str,
    previous: str = "OPEN",
) -> dict[str, Any]:
    return {
        "type": "zen:event-type:ticket.status_changed",
        "account_id": 12514403,
        "id": event_id,
        "time": _iso(at),
        "zendesk_event_version": "2022-11-06",
        "subject": f"zen:ticket:{ticket}",
        "detail": {
            "id": str(ticket),
            "external_id": case_id or "",
            "status": status,
            "created_at": "2026-03-01T08:00:00Z",
            "updated_at": _iso(at),
            "via": {"channel": "api"},
        },
        "event": {"current": status, "previous": previous},
    }


def zendesk_headers(
    body: bytes, secret: str = ZENDESK_SECRET, timestamp: str | None = None
) -> dict[str, str]:
    ts = timestamp or _iso(datetime.now(UTC))
    digest = hmac.new(secret.encode(), ts.encode() + body, hashlib.sha256).digest()
    return {
        "Content-Type": "application/json",
        "X-Zendesk-Webhook-Signature-Timestamp": ts,
        "X-Zendesk-Webhook-Signature": base64.b64encode(digest).decode(),
        "X-Zendesk-Webhook-Id": "01GK8E6BKWMJZD2T8Y5AXJQMG5",
    }


# --- HubSpot ----------------------------------------------------------------------------


def hubspot_event(
    deal: int, stage: str, at: datetime, event_id: int, attempt: int = 0, **more: Any
) -> dict[str, Any]:
    return {
        "eventId": event_id,
        "subscriptionId": 234567,
        "portalId": PORTAL,
        "appId": 987654,
        "occurredAt": _ms(at),
        "subscriptionType": "deal.propertyChange",
        "attemptNumber": attempt,
        "objectId": deal,
        "propertyName": "dealstage",
        "propertyValue": stage,
        "changeSource": "CRM_UI",
        "sourceId": "userId:45678",
        **more,
    }


def hubspot_headers(
    url: str,
    body: bytes,
    secret: str = HUBSPOT_SECRET,
    timestamp_ms: int | None = None,
    method: str = "POST",
) -> dict[str, str]:
    ts = str(int(time.time() * 1000) if timestamp_ms is None else timestamp_ms)
    signed = f"{method}{url}".encode() + body + ts.encode()
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).digest()
    return {
        "Content-Type": "application/json",
        "X-HubSpot-Request-Timestamp": ts,
        "X-HubSpot-Signature-v3": base64.b64encode(digest).decode(),
        "X-HubSpot-Signature-Version": "v3",
    }


# --- Jira -------------------------------------------------------------------------------


def jira_event(
    case_id: str | None,
    key: str,
    status: str,
    category: str,
    at: datetime,
    changelog_id: str,
    site: str = "https://example.atlassian.net",
) -> dict[str, Any]:
    issue_id = str(10000 + int(key.rsplit("-", 1)[1]))
    return {
        "timestamp": _ms(at),
        "webhookEvent": "jira:issue_updated",
        "issue_event_type_name": "issue_generic",
        "user": {"accountId": "5b10ac8d82e05b22cc7d4ef5", "displayName": "Agent"},
        "issue": {
            "id": issue_id,
            "key": key,
            "self": f"{site}/rest/api/2/issue/{issue_id}",
            "fields": {
                "summary": "billing: direct debit collected twice",
                "labels": ["antenna", f"antenna-{case_id}"] if case_id else ["other"],
                "status": {"name": status, "statusCategory": {"id": 3, "key": category}},
            },
        },
        "changelog": {
            "id": changelog_id,
            "items": [
                {
                    "field": "status",
                    "fieldtype": "jira",
                    "fieldId": "status",
                    "fromString": "In Progress",
                    "toString": status,
                }
            ],
        },
    }


def jira_headers(body: bytes, secret: str = JIRA_SECRET, identifier: str = "1") -> dict[str, str]:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {
        "Content-Type": "application/json",
        "X-Hub-Signature": f"sha256={digest}",
        "X-Atlassian-Webhook-Identifier": identifier,
        "X-Atlassian-Webhook-Flow": "Primary",
    }


def body_of(payload: Any) -> bytes:
    return json.dumps(payload).encode()
