from __future__ import annotations

from typing import Annotated

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import NoDecode

from services.common.settings import CommonSettings, check_secret


class IngestSettings(CommonSettings):
    api_host: str = "127.0.0.1"
    api_port: int = 8000
    # Comma-separated. `antenna up` generates a development key when none is set.
    api_keys: Annotated[list[SecretStr], NoDecode] = Field(min_length=1)
    max_body_bytes: int = Field(default=1_000_000, gt=0)
    publish_timeout_s: float = Field(default=10.0, gt=0)
    idempotency_cache_size: int = Field(default=100_000, ge=0)
    idempotency_ttl_s: float = Field(default=24 * 3600, gt=0)

    # E-mail (SMTP listener and POST /v1/email/inbound)
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 2525
    # Recipients the SMTP listener accepts mail for (comma-separated).
    signal_addresses: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["signals@localhost"]
    )
    # Sender domains allowed to report (comma-separated); mail from others is refused.
    allowed_sender_domains: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["localhost"]
    )
    max_email_bytes: int = Field(default=10_000_000, gt=0)

    # Chat: a channel without its secret is switched off (its endpoint answers 404).
    slack_signing_secret: SecretStr | None = None
    slack_bot_user_id: str | None = None  # the app's own user: its messages are ignored
    teams_hmac_secret: SecretStr | None = None  # base64, as Teams shows it
    chat_webhook_secret: SecretStr | None = None

    # The report page (GET /report) and form posts (POST /v1/forms/{form_id})
    # Employees sign in with HTTP Basic "user:password" pairs (comma-separated), unless a
    # trusted SSO proxy in front sets report_trusted_user_header.
    report_users: Annotated[list[SecretStr], NoDecode] = Field(default_factory=list)
    report_trusted_user_header: str | None = None
    csrf_secret: SecretStr | None = None  # generated per process when unset
    max_attachment_bytes: int = Field(default=5_000_000, gt=0)

    @field_validator(
        "api_keys", "signal_addresses", "allowed_sender_domains", "report_users", mode="before"
    )
    @classmethod
    def _split(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("api_keys")
    @classmethod
    def _real_keys(cls, keys: list[SecretStr]) -> list[SecretStr]:
        return [check_secret(key, "API key") for key in keys]
