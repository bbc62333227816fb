"""What a client posts to /v1/signals, and how it becomes a Signal. Pure."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from schemas import Attachment, CallbackWindow, Channel, Customer, Reporter, Signal


class SignalSubmission(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    text: str = Field(min_length=1, max_length=50_000)
    subject: str | None = Field(default=None, max_length=500)
    channel: Channel = Channel.api
    reporter: Reporter
    customer: Customer | None = None
    language: str | None = Field(default=None, max_length=8)
    attachments: list[Attachment] = Field(default_factory=list, max_length=50)
    metadata: dict[str, str] = Field(default_factory=dict, max_length=50)
    callback_window: CallbackWindow | None = None

    @field_validator("reporter")
    @classmethod
    def _identified(cls, reporter: Reporter) -> Reporter:
        if not (reporter.employee_id or reporter.email):
            raise ValueError("the reporter needs an employee_id or an email")
        return reporter

    @model_validator(mode="after")
    def _window_order(self) -> SignalSubmission:
        window = self.callback_window
        if (
            window
            and window.not_before
            and window.not_after
            and window.not_before > window.not_after
        ):
            raise ValueError("callback_window.not_before is after not_after")
        return self


def to_signal(
    submission: SignalSubmission,
    *,
    signal_id: str,
    idempotency_key: str | None,
    source: str,
    received_at: datetime,
    body_fingerprint: str | None = None,
) -> Signal:
    return Signal(
        signal_id=signal_id,
        body_fingerprint=body_fingerprint,
        # Without a client key, the signal_id is the key: redeliveries still dedupe.
        idempotency_key=idempotency_key or signal_id,
        source=source,
        received_at=received_at,
        # The submission's fields as they are: its nested models (Reporter, Customer, ...)
        # are the Signal's own types and are taken without being dumped and validated again.
        **vars(submission),
    )
