"""A generic chat webhook, for chat tools without their own adapter. Pure, no I/O, no clock.

The sender posts JSON ``{"text", "user": {"id", "name", "email"?}, "message_id",
"channel"?}`` signed exactly like Antenna's own outgoing webhooks
(``services.common.signing``): ``X-Antenna-Timestamp: <unix seconds>`` and
``X-Antenna-Signature: v1=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>``.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from services.common import signing
from services.ingest.chat import (
    REPLAY_WINDOW_S,
    ChatPayloadError,
    ChatReport,
    Verdict,
    build_submission,
    employee_id,
    error_fields,
    verify_timestamped,
)

SIGNATURE_HEADER = signing.SIGNATURE_HEADER
TIMESTAMP_HEADER = signing.TIMESTAMP_HEADER


def verify(
    secret: bytes,
    body: bytes,
    timestamp: str | None,
    presented: str | None,
    now: float,
    tolerance_s: int = REPLAY_WINDOW_S,
) -> Verdict:
    return verify_timestamped(
        lambda ts: signing.sign(secret, int(ts), body), timestamp, presented, now, tolerance_s
    )


class _Payload(BaseModel):
    model_config = ConfigDict(extra="ignore")


class _User(_Payload):
    id: str = Field(min_length=1, max_length=100)
    name: str | None = Field(default=None, max_length=200)
    email: str | None = Field(default=None, max_length=320)


class _Message(_Payload):
    text: str = Field(max_length=60_000)
    user: _User
    message_id: str = Field(min_length=1, max_length=255)
    channel: str | None = Field(default=None, max_length=200)


def parse(body: bytes) -> ChatReport:
    """The webhook body -> a report, keyed by its ``message_id``. The key comes from the
    signed body only: an unsigned header would let one signed body be replayed as many
    signals. Raises ChatPayloadError, also for an empty text."""
    try:
        message = _Message.model_validate_json(body)
    except ValidationError as exc:
        raise ChatPayloadError(f"invalid field(s): {error_fields(exc)}") from None
    submission = build_submission(
        message.text,
        employee=employee_id("webhook", message.user.id),
        name=message.user.name,
        email=message.user.email,
        metadata={
            "platform": "webhook",
            "webhook_message_id": message.message_id,
            "webhook_channel": message.channel or "",
        },
    )
    return ChatReport(submission, idempotency_key=message.message_id)
