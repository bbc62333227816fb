"""Slack: request signing (v0), the Events API and slash commands. Pure, no I/O, no clock.

Slack signs every request: ``X-Slack-Signature: v0=<hex HMAC-SHA256(signing secret,
"v0:{X-Slack-Request-Timestamp}:{raw body}")>``; requests older than five minutes are
replays. Events arrive as JSON (``url_verification`` once, then ``event_callback``); Slack
retries an event it got no 200 for within 3 s, with the same ``event_id`` and an
``X-Slack-Retry-Num`` header. Slash commands arrive form-encoded.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import urllib.parse
from dataclasses import dataclass
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
    verify_timestamped,
)

SIGNATURE_HEADER = "X-Slack-Signature"
TIMESTAMP_HEADER = "X-Slack-Request-Timestamp"
RETRY_NUM_HEADER = "X-Slack-Retry-Num"
RETRY_REASON_HEADER = "X-Slack-Retry-Reason"

MESSAGE_EVENTS = frozenset({"message", "app_mention"})
EDIT_SUBTYPES = frozenset({"message_changed", "message_deleted"})
# Subtypes that still carry what a person wrote; every other subtype (joins, topic
# changes, bot messages, ...) is not a report.
PERSON_SUBTYPES = frozenset({None, "file_share", "thread_broadcast", "me_message"})

_LEADING_MENTION = re.compile(r"^\s*<@[A-Z0-9]+(?:\|[^>]*)?>")
_ENTITY = re.compile(r"<([^<>\n]*)>")
_SPACES = re.compile(r"[ \t\u00a0]+")


# --- signing ------------------------------------------------------------------------------


def signature(secret: bytes, timestamp: str, body: bytes) -> str:
    basestring = b"v0:" + timestamp.encode() + b":" + body
    return "v0=" + hmac.new(secret, basestring, hashlib.sha256).hexdigest()


def verify(
    secret: bytes,
    body: bytes,
    timestamp: str | None,
    presented: str | None,
    now: float,
    tolerance_s: int = REPLAY_WINDOW_S,
) -> Verdict:
    """Check the v0 signature over the raw body (constant time), then the replay window."""
    return verify_timestamped(
        lambda ts: signature(secret, ts, body), timestamp, presented, now, tolerance_s
    )


# --- text -----------------------------------------------------------------------------------


def plain_text(raw: str, bot_user_ids: frozenset[str], strip_leading_mention: bool) -> str:
    """Slack's markup as a person reads it, without the mention of the app itself:
    ``<@U1|ann>`` -> ``@ann``, ``<#C1|general>`` -> ``#general``, ``<!here>`` -> ``@here``,
    ``<https://x|label>`` -> ``label (https://x)``, and &lt; &gt; &amp; unescaped."""
    text = _LEADING_MENTION.sub(" ", raw, count=1) if strip_leading_mention else raw

    def entity(match: re.Match[str]) -> str:
        inner = match.group(1)
        target, _, label = inner.partition("|")
        if target.startswith("@"):
            return " " if target[1:] in bot_user_ids else "@" + (label or target[1:])
        if target.startswith("#"):
            return "#" + (label or target[1:])
        if target.startswith("!"):
            if label:
                return label
            return "@" + target[1:].split("^", 1)[0]
        if label and not target.endswith(label):
            return f"{label} ({target})"
        return label or target

    text = _ENTITY.sub(entity, text)
    text = text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    lines = (_SPACES.sub(" ", line).strip() for line in text.splitlines())
    return "\n".join(lines).strip()


# --- the Events API --------------------------------------------------------------------------


class _Payload(BaseModel):
    model_config = ConfigDict(extra="ignore")


class _Authorization(_Payload):
    user_id: str | None = Field(default=None, max_length=50)
    is_bot: bool = False


class _Envelope(_Payload):
    type: str = Field(max_length=100)
    challenge: str | None = Field(default=None, max_length=1000)
    team_id: str | None = Field(default=None, min_length=1, max_length=50)
    event_id: str | None = Field(default=None, min_length=1, max_length=100)
    # Validated only for the event types we read: other events may have any shape.
    event: dict[str, Any] | None = None
    authorizations: list[_Authorization] = Field(default_factory=list, max_length=100)


class _Message(_Payload):
    type: str
    subtype: str | None = None
    user: str | None = Field(default=None, min_length=1, max_length=50)
    text: str = Field(default="", max_length=60_000)
    channel: str | None = Field(default=None, max_length=50)
    channel_type: str | None = Field(default=None, max_length=50)
    team: str | None = Field(default=None, max_length=50)
    ts: str | None = Field(default=None, max_length=50)
    thread_ts: str | None = Field(default=None, max_length=50)


def _string(value: object) -> str | None:
    return value if isinstance(value, str) else None


@dataclass(frozen=True)
class Challenge:
    """``url_verification``: answer 200 with the challenge."""

    challenge: str


def parse_event(body: bytes, bot_user_id: str | None = None) -> Challenge | Ignored | ChatReport:
    """An Events API request body -> the challenge, a report, or why it is ignored.

    Raises ChatPayloadError for a body that is not a Slack event."""
    try:
        envelope = _Envelope.model_validate_json(body)
    except ValidationError as exc:
        raise ChatPayloadError(f"not a Slack event: {error_fields(exc)}") from None
    if envelope.type == "url_verification":
        if not envelope.challenge:
            raise ChatPayloadError("url_verification without a challenge")
        return Challenge(envelope.challenge)
    if envelope.type != "event_callback":
        return Ignored("not_an_event")
    event = envelope.event
    if event is None:
        raise ChatPayloadError("event_callback without an event")
    kind, subtype = _string(event.get("type")), _string(event.get("subtype"))
    if kind not in MESSAGE_EVENTS:
        return Ignored("event_type")
    if event.get("bot_id") or subtype == "bot_message":
        return Ignored("bot")
    if subtype in EDIT_SUBTYPES:
        return Ignored("edit")
    if subtype not in PERSON_SUBTYPES:
        return Ignored("subtype")
    try:
        message = _Message.model_validate(event)
    except ValidationError as exc:
        raise ChatPayloadError(f"invalid event field(s): {error_fields(exc)}") from None

    own = {a.user_id for a in envelope.authorizations if a.is_bot and a.user_id}
    if bot_user_id:
        own.add(bot_user_id)
    bot_user_ids = frozenset(own)
    if message.user is None:
        return Ignored("no_user")
    if message.user in bot_user_ids:
        return Ignored("own_bot")
    team_id = envelope.team_id or message.team
    if not team_id or not envelope.event_id:
        raise ChatPayloadError("event_callback without team_id or event_id")

    text = plain_text(message.text, bot_user_ids, strip_leading_mention=kind == "app_mention")
    if not text:
        return Ignored("empty")
    submission = build_submission(
        text,
        employee=employee_id("slack", team_id, message.user),
        metadata={
            "platform": "slack",
            "slack_kind": "event",
            "slack_event_type": kind,
            "slack_event_id": envelope.event_id,
            "slack_team_id": team_id,
            "slack_channel_id": message.channel or "",
            "slack_channel_type": message.channel_type or "",
            "slack_ts": message.ts or "",
            "slack_thread_ts": message.thread_ts or "",
        },
    )
    # Slack retries carry the same event_id: the key turns a retry into a replay.
    return ChatReport(submission, idempotency_key=f"{team_id}:{envelope.event_id}")


# --- slash commands --------------------------------------------------------------------------


class _Command(_Payload):
    command: str = Field(min_length=1, max_length=100)
    text: str = Field(default="", max_length=60_000)
    user_id: str = Field(min_length=1, max_length=50)
    user_name: str | None = Field(default=None, max_length=200)
    team_id: str = Field(min_length=1, max_length=50)
    channel_id: str | None = Field(default=None, max_length=50)
    trigger_id: str = Field(min_length=1, max_length=200)


def parse_form(body: bytes) -> dict[str, str]:
    """An application/x-www-form-urlencoded body; the first value of a repeated field wins."""
    try:
        pairs = urllib.parse.parse_qsl(
            body.decode("utf-8"),
            keep_blank_values=True,
            strict_parsing=True,
            errors="strict",
            max_num_fields=200,
        )
    except ValueError:  # UnicodeDecodeError is a ValueError too
        raise ChatPayloadError("the body is not a valid form") from None
    form: dict[str, str] = {}
    for name, value in pairs:
        form.setdefault(name, value)
    return form


def parse_command(body: bytes) -> Ignored | ChatReport:
    """A slash command (``/antenna her card was declined``) -> a report, or why not."""
    form = parse_form(body)
    if form.get("ssl_check"):
        return Ignored("ssl_check")
    if "command" not in form:
        return Ignored("not_a_command")  # e.g. an interactivity payload
    try:
        command = _Command.model_validate(form)
    except ValidationError as exc:
        raise ChatPayloadError(f"invalid command field(s): {error_fields(exc)}") from None
    text = plain_text(command.text, frozenset(), strip_leading_mention=False)
    if not text:
        return Ignored("empty")
    submission = build_submission(
        text,
        employee=employee_id("slack", command.team_id, command.user_id),
        name=command.user_name,
        metadata={
            "platform": "slack",
            "slack_kind": "command",
            "slack_command": command.command,
            "slack_team_id": command.team_id,
            "slack_channel_id": command.channel_id or "",
        },
    )
    return ChatReport(submission, idempotency_key=f"{command.team_id}:{command.trigger_id}")
