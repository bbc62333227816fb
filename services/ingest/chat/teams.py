"""Microsoft Teams outgoing webhooks. Pure, no I/O, no clock.

Teams posts a Bot Framework activity (JSON) when someone @mentions the webhook in a
channel, signed with ``Authorization: HMAC <base64 HMAC-SHA256 of the raw body>``, keyed
with the base64-*decoded* security token Teams showed when the webhook was created. The
answer (within 5 s) is a message activity: ``{"type": "message", "text": "..."}``.

The signature carries no timestamp; the activity's own ``timestamp`` (inside the signed
body) bounds replays to the same five-minute window as Slack (an activity without one is
refused), and the activity ``id`` is the idempotency key.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import html
import re
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from services.ingest.chat import (
    REPLAY_WINDOW_S,
    ChatPayloadError,
    ChatReport,
    Ignored,
    Verdict,
    build_submission,
    employee_id,
    error_fields,
    fresh,
)

AUTHORIZATION_HEADER = "Authorization"

_AT = re.compile(r"<at\b[^>]*>(.*?)</at>", re.IGNORECASE | re.DOTALL)
_BREAK = re.compile(r"<br\s*/?>|</p>|</div>|</li>", re.IGNORECASE)
# No "<" inside a tag: "<<<<" must not make every "<" scan to the end (quadratic).
_TAG = re.compile(r"<[^<>]*>")
_SPACES = re.compile(r"[ \t\u00a0]+")


# --- signing ------------------------------------------------------------------------------


def decode_secret(secret: str) -> bytes:
    """The security token as Teams shows it (base64) -> the HMAC key. ValueError if it is
    not base64."""
    try:
        key = base64.b64decode(secret.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("the Teams security token is not valid base64") from None
    if not key:
        raise ValueError("the Teams security token is empty")
    return key


def authorization(key: bytes, body: bytes) -> str:
    digest = hmac.new(key, body, hashlib.sha256).digest()
    return "HMAC " + base64.b64encode(digest).decode()


def check_authorization_header(presented: str | None) -> Verdict:
    """What can be judged before the body is read: an ``HMAC <value>`` header at all."""
    if not presented:
        return Verdict.missing
    scheme, _, value = presented.strip().partition(" ")
    if scheme.lower() != "hmac" or not value.strip():
        return Verdict.invalid
    return Verdict.ok


def verify(key: bytes, body: bytes, presented: str | None) -> Verdict:
    """Check ``Authorization: HMAC <base64>`` over the raw body, in constant time."""
    verdict = check_authorization_header(presented)
    if verdict is not Verdict.ok or presented is None:
        return verdict
    value = presented.strip().partition(" ")[2]
    expected = authorization(key, body).partition(" ")[2]
    if not hmac.compare_digest(expected.encode(), value.strip().encode("utf-8", "replace")):
        return Verdict.invalid
    return Verdict.ok


# --- the activity ------------------------------------------------------------------------------


class _Payload(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class _Account(_Payload):
    id: str = Field(min_length=1, max_length=500)
    name: str | None = Field(default=None, max_length=200)
    aad_object_id: str | None = Field(default=None, alias="aadObjectId", max_length=100)


class _Conversation(_Payload):
    id: str | None = Field(default=None, max_length=1000)
    tenant_id: str | None = Field(default=None, alias="tenantId", max_length=100)


class Activity(_Payload):
    type: str = Field(max_length=100)
    id: str | None = Field(default=None, min_length=1, max_length=255)
    timestamp: datetime | None = None
    text: str = Field(default="", max_length=60_000)
    sender: _Account | None = Field(default=None, alias="from")
    recipient: _Account | None = None
    conversation: _Conversation | None = None
    entities: list[dict[str, Any]] = Field(default_factory=list, max_length=500)
    channel_data: dict[str, Any] = Field(default_factory=dict, alias="channelData")


def parse_activity(body: bytes) -> Activity:
    try:
        return Activity.model_validate_json(body)
    except ValidationError as exc:
        raise ChatPayloadError(f"not a Teams activity: {error_fields(exc)}") from None


def freshness(activity: Activity, now: float, tolerance_s: int = REPLAY_WINDOW_S) -> Verdict:
    """A signed activity replayed later still carries its original timestamp. Without one
    there is no replay window at all (the HMAC covers only the body), so it is refused."""
    if activity.timestamp is None:
        return Verdict.missing
    sent = activity.timestamp
    if sent.tzinfo is None:
        sent = sent.replace(tzinfo=UTC)
    return Verdict.ok if fresh(sent.timestamp(), now, tolerance_s) else Verdict.stale


def plain_text(text: str, entities: list[dict[str, Any]], bot_id: str | None) -> str:
    """Teams' HTML as plain text, without the ``<at>Bot</at>`` mention that triggered the
    webhook; other mentions stay as ``@Name``."""
    own = [
        entity["text"]
        for entity in entities
        if entity.get("type") == "mention"
        and isinstance(entity.get("text"), str)
        and isinstance(entity.get("mentioned"), dict)
        and bot_id is not None
        and entity["mentioned"].get("id") == bot_id
    ]
    if own and all(mention in text for mention in own):
        for mention in own:
            text = text.replace(mention, " ", 1)
    else:
        text = _AT.sub(" ", text, count=1)  # an outgoing webhook fires on its own mention
    text = _AT.sub(lambda m: "@" + m.group(1), text)
    text = _BREAK.sub("\n", text)
    text = html.unescape(_TAG.sub("", text))
    lines = (_SPACES.sub(" ", line).strip() for line in text.splitlines())
    return "\n".join(line for line in lines if line).strip()


def _nested_id(data: dict[str, Any], name: str) -> str:
    value = data.get(name)
    if isinstance(value, dict) and isinstance(value.get("id"), str):
        return str(value["id"])[:500]
    return ""


def to_report(activity: Activity) -> Ignored | ChatReport:
    if activity.type != "message":
        return Ignored("activity_type")
    if activity.sender is None or activity.id is None:
        raise ChatPayloadError("a message activity needs from and id")
    bot_id = activity.recipient.id if activity.recipient else None
    text = plain_text(activity.text, activity.entities, bot_id)
    if not text:
        return Ignored("empty")
    sender = activity.sender
    conversation = activity.conversation or _Conversation()
    submission = build_submission(
        text,
        employee=employee_id("teams", sender.aad_object_id or sender.id),
        name=sender.name,
        metadata={
            "platform": "teams",
            "teams_activity_id": activity.id,
            "teams_conversation_id": conversation.id or "",
            "teams_tenant_id": conversation.tenant_id
            or _nested_id(activity.channel_data, "tenant"),
            "teams_team_id": _nested_id(activity.channel_data, "team"),
            "teams_channel_id": _nested_id(activity.channel_data, "channel"),
        },
    )
    return ChatReport(submission, idempotency_key=activity.id)


def reply(text: str) -> dict[str, str]:
    return {"type": "message", "text": text}
