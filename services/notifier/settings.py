from __future__ import annotations

from pydantic import Field, SecretStr, ValidationInfo, field_validator, model_validator

from services.common.open_cases import OutcomeWatchSettings
from services.common.settings import PLACEHOLDER_SECRETS, CommonSettings, check_secret


class NotifierSettings(CommonSettings, OutcomeWatchSettings):
    # E-mail: off until a relay is set. STARTTLS and AUTH only when asked for.
    notify_smtp_host: str | None = None
    notify_smtp_port: int = Field(default=25, gt=0, lt=65536)
    notify_from: str | None = None  # the From address; required with a relay
    notify_smtp_user: str | None = None
    notify_smtp_password: SecretStr | None = None
    notify_smtp_starttls: bool = False
    notify_smtp_timeout_s: float = Field(default=30.0, gt=0)
    # Where employees open Antenna: links to the status page start here.
    public_url: str = "http://127.0.0.1:8000"
    # Slack: chat.postMessage with a bot token (scope chat:write); off without a token.
    slack_bot_token: SecretStr | None = None
    slack_api_url: str = "https://slack.com/api"
    # Teams: an incoming webhook (its URL is the credential); off without one.
    teams_notify_webhook_url: SecretStr | None = None
    notify_http_timeout_s: float = Field(default=10.0, gt=0)
    # How long the notifier remembers who reported each case (as the processor's dedupe).
    dedupe_window_days: float = Field(default=14, gt=0)
    # News older than this is not sent: a notifier started on an old topic, or down for
    # longer, does not flood employees with what happened days ago.
    notify_max_age_days: float = Field(default=3, gt=0)
    # Case files remembered at most (the most recent), with their reports' ledger entries.
    notify_max_cases: int = Field(default=10_000, ge=100)
    # Waiting for a channel that cannot be reached: capped exponential backoff, forever.
    notify_retry_base_delay_s: float = Field(default=1.0, gt=0)
    notify_retry_max_delay_s: float = Field(default=300.0, gt=0)
    notifier_metrics_host: str = "127.0.0.1"
    notifier_metrics_port: int = 9103

    @field_validator(
        "notify_smtp_host",
        "notify_from",
        "notify_smtp_user",
        "notify_smtp_password",
        "slack_bot_token",
        "teams_notify_webhook_url",
        mode="before",
    )
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        # `FOO=` in an env file or compose means "not configured".
        return None if value == "" else value

    @field_validator("slack_bot_token")
    @classmethod
    def _real_token(cls, value: SecretStr | None, info: ValidationInfo) -> SecretStr | None:
        return check_secret(value, str(info.field_name)) if value is not None else None

    @field_validator("notify_smtp_password")
    @classmethod
    def _real_password(cls, value: SecretStr | None) -> SecretStr | None:
        # A relay's password may be short; a placeholder is still refused.
        if value is not None and value.get_secret_value().strip().lower() in PLACEHOLDER_SECRETS:
            raise ValueError("notify_smtp_password is a placeholder value; set the real one")
        return value

    @field_validator("public_url", "slack_api_url")
    @classmethod
    def _http_url(cls, value: str, info: ValidationInfo) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError(f"{info.field_name} must be an http(s) URL")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _relay_needs_sender(self) -> NotifierSettings:
        if self.notify_smtp_host and not self.notify_from:
            raise ValueError("ANTENNA_NOTIFY_FROM is required with ANTENNA_NOTIFY_SMTP_HOST")
        if self.notify_max_age_days > self.dedupe_window_days:
            # A ledger entry lives for the window; past it, only the age limit keeps an
            # old notice from being sent again.
            raise ValueError("ANTENNA_NOTIFY_MAX_AGE_DAYS must not exceed the dedupe window")
        if self.notify_smtp_password is not None and not self.notify_smtp_user:
            raise ValueError("ANTENNA_NOTIFY_SMTP_PASSWORD needs ANTENNA_NOTIFY_SMTP_USER")
        return self
