"""Jira (Service Management, Cloud): an admin webhook with a secret. Pure, no I/O, no clock.

Signature (https://developer.atlassian.com/cloud/jira/platform/webhooks/, "Secure admin
webhooks"; the same scheme in Jira Data Center's "Managing webhooks"):
``X-Hub-Signature: sha256=<hex HMAC-SHA256(secret, raw body)>``. No signed timestamp
header; the body's own ``timestamp`` (ms, signed with it) is the time of the event. Jira
retries a failed delivery for up to about 30 minutes
(https://community.developer.atlassian.com/t/new-jira-cloud-webhook-retry-policy/30554),
so an event older than an hour is refused as a replay; within that hour a replay is the
same change again, which is one outcome.

Payload: ``{"timestamp", "webhookEvent": "jira:issue_updated" | "jira:issue_created",
"issue": {"id", "key", "self", "fields": {"labels", "status": {"name",
"statusCategory": {"key"}}}}, "changelog": {"id", "items": [{"field": "status", ...}]}}``.
Antenna's requests carry the label ``antenna-<case id>``. An update counts when its
changelog changes the status; the changelog's id names that change in every delivery
of it (and in every webhook that reports it).

Statuses, by Jira's status category (every workflow maps its statuses to one):

==========================================  ============
Jira                                        Outcome
==========================================  ============
category new (To Do, Waiting for support)   opened
category indeterminate (In Progress, ...)   in_progress
category done: Closed, Canceled, Declined,  closed (ended, or without a
Won't Do                                    resolution)
category done, any other (Resolved, Done)   resolved
==========================================  ============
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime
from typing import Any

from schemas import Outcome, OutcomeStatus
from services.ingest.chat import Verdict
from services.ingest.outcomes import (
    Ignored,
    case_id,
    check_age,
    check_signature,
    field,
    from_epoch_ms,
    json_payload,
    text,
)

SIGNATURE_HEADER = "X-Hub-Signature"
IDENTIFIER_HEADER = "X-Atlassian-Webhook-Identifier"
REPLAY_WINDOW_S = 3600  # Jira retries for about 30 minutes
LABEL_PREFIX = "antenna-"  # services.connectors.jira_servicedesk.case_label
UPDATED, CREATED = "jira:issue_updated", "jira:issue_created"
CATEGORIES = {"new": OutcomeStatus.opened, "indeterminate": OutcomeStatus.in_progress}
ENDED = frozenset({"closed", "canceled", "cancelled", "declined", "won't do"})
DESTINATION, CONNECTOR = "servicedesk", "jira_servicedesk"


def outcome_status(category: str, name: str) -> OutcomeStatus | None:
    """A Jira status (its category's key and its name) as an Outcome status."""
    if category == "done":
        return OutcomeStatus.closed if name.strip().lower() in ENDED else OutcomeStatus.resolved
    return CATEGORIES.get(category)


def signature(secret: bytes, body: bytes) -> str:
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


def verify(secret: bytes, body: bytes, presented: str | None) -> Verdict:
    return check_signature(signature(secret, body), presented)


def fresh(body_timestamp: datetime, now: float) -> Verdict:
    return check_age(body_timestamp.timestamp(), now, REPLAY_WINDOW_S)


def _case(labels: Any) -> str | None:
    for label in labels if isinstance(labels, list) else []:
        if isinstance(label, str) and label.startswith(LABEL_PREFIX):
            found = case_id(label[len(LABEL_PREFIX) :])
            if found is not None:
                return found
    return None


def _browse_url(issue: Any, key: str) -> str | None:
    """The request's link, from the issue's REST address (``https://x/rest/api/2/...``)."""
    own = field(issue, "self")
    if not isinstance(own, str) or "/rest/" not in own or not own.startswith("https://"):
        return None
    return f"{own.split('/rest/', 1)[0]}/browse/{key}"


def parse(body: bytes, observed_at: datetime, identifier: str | None) -> Outcome | Ignored:
    """A verified issue event as the Outcome of its case."""
    payload = json_payload(body)
    kind = field(payload, "webhookEvent")
    if kind not in (UPDATED, CREATED):
        return Ignored("not_a_status_change")
    issue = field(payload, "issue")
    case = _case(field(issue, "fields", "labels"))
    if case is None:
        return Ignored("not_antennas")
    issue_id = text(field(issue, "id"), "issue.id")
    if kind == UPDATED:
        items = field(payload, "changelog", "items")
        changed = isinstance(items, list) and any(
            field(item, "field") == "status" or field(item, "fieldId") == "status" for item in items
        )
        if not changed:
            return Ignored("not_a_status_change")
        change = field(payload, "changelog", "id")
        event = f"jira:{issue_id}:{text(change, 'changelog.id')}" if change else None
    else:
        event = f"jira:{issue_id}:created"
    if event is None:
        event = f"jira:{text(identifier, IDENTIFIER_HEADER)}"
    category = text(field(issue, "fields", "status", "statusCategory", "key"), "status category")
    status = outcome_status(category, str(field(issue, "fields", "status", "name") or ""))
    if status is None:
        return Ignored("unknown_status")
    key = text(field(issue, "key"), "issue.key")
    return Outcome(
        case_id=case,
        status=status,
        changed_at=from_epoch_ms(field(payload, "timestamp"), "timestamp"),
        record_id=key,
        record_url=_browse_url(issue, key),
        destination=DESTINATION,
        connector=CONNECTOR,
        event_id=event,
        observed_at=observed_at,
    )
