from __future__ import annotations

import base64
import binascii
from pathlib import Path
from typing import Annotated, Self

from pydantic import AnyHttpUrl, Field, SecretStr, ValidationInfo, field_validator, model_validator
from pydantic_settings import NoDecode

from services.common.settings import MIN_SECRET_LENGTH, CommonSettings, check_secret

# Under load a batch fills while the previous produce request is answered; the linger
# only matters when posts are few, and then it is all they wait for.
PUBLISH_LINGER_MS = 5
PUBLISH_BATCH_BYTES = 65_536  # a busy second's posts in a few requests per partition


class IngestSettings(CommonSettings):
    api_host: str = "127.0.0.1"
    api_port: int = 8000
    # Comma-separated. `antenna up` generates a development key when none is set.
    api_keys: Annotated[list[SecretStr], NoDecode] = Field(min_length=1)
    max_body_bytes: int = Field(default=1_000_000, gt=0)
    publish_timeout_s: float = Field(default=10.0, gt=0)
    # Concurrent posts share produce requests (services/ingest/publisher.py): how long a
    # batch may wait for more records, and how large it may grow per partition.
    publish_linger_ms: int = Field(default=PUBLISH_LINGER_MS, ge=0)
    publish_batch_bytes: int = Field(default=PUBLISH_BATCH_BYTES, ge=1)
    # Keys remembered in this process (a re-post gets its first answer; another body, 422).
    # The processor's resubmission table is the durable guarantee, so a bounded cache is
    # enough: a key it forgot still gets the same signal_id (derived from the key).
    idempotency_cache_size: int = Field(default=10_000, ge=0)
    idempotency_ttl_s: float = Field(default=24 * 3600, gt=0)
    # Signals whose status this process keeps for GET /v1/signals/{id} and the status page
    # (the most recently touched; an older one reads as unknown). About 1 KB each.
    status_capacity: int = Field(default=20_000, ge=1)

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
    # Who may hand mail to the SMTP listener: peers in these networks (the mail relay;
    # comma-separated CIDRs), or clients that sign in with SMTP AUTH over STARTTLS.
    smtp_relay_networks: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["127.0.0.0/8", "::1/128"]
    )
    smtp_users: Annotated[list[SecretStr], NoDecode] = Field(default_factory=list)  # user:pw
    smtp_tls_cert: Path | None = None  # PEM certificate (chain) for STARTTLS
    smtp_tls_key: Path | None = None  # its PEM private key
    # When set, mail is taken only when the topmost Authentication-Results header is the
    # relay's (this authserv-id) and says SPF, DKIM or DMARC passed for the From domain.
    smtp_trusted_authserv_id: str | None = None
    smtp_max_sessions_per_peer: int = Field(default=10, ge=1)
    # Parsing runs in worker processes; one that takes longer is stopped and the mail is
    # answered "try again later" (SMTP 451, HTTP 503). A mail of megabytes takes < 1 s.
    email_parse_budget_s: float = Field(default=10.0, gt=0)
    email_parse_workers: int = Field(default=2, ge=1)
    # Hard caps on what one mail may cost (services.ingest.email.parse.EmailLimits): more
    # parts, deeper nesting or more header characters are refused (SMTP 552, HTTP 422);
    # HTML beyond the cap is not converted; longer lines are wrapped. The defaults are
    # EmailLimits' (a unit test keeps them equal).
    email_max_parts: int = Field(default=500, ge=1)
    email_max_depth: int = Field(default=20, ge=1)
    email_max_header_chars: int = Field(default=512_000, ge=1_000)
    email_max_html_chars: int = Field(default=1_000_000, ge=1_000)
    email_max_line_chars: int = Field(default=5_000, ge=100)

    # Chat: a channel without its secret is switched off (its endpoint answers 404).
    slack_signing_secret: SecretStr | None = None
    slack_bot_user_id: str | None = None  # the app's own user: its messages are ignored
    teams_hmac_secret: SecretStr | None = None  # base64, as Teams shows it
    chat_webhook_secret: SecretStr | None = None

    # Outcome webhooks (POST /v1/outcomes/{zendesk,hubspot,jira}): each is off (404) until
    # its secret is set.
    zendesk_webhook_secret: SecretStr | None = None  # the webhook's signing secret
    zendesk_url: AnyHttpUrl | None = None  # e.g. https://acme.zendesk.com, for ticket links
    hubspot_client_secret: SecretStr | None = None  # the app's client secret (signature v3)
    # The target URL as configured in HubSpot, which it signs; default: the URL the request
    # arrived at (wrong behind a proxy that changes scheme, host or path).
    hubspot_webhook_url: str | None = None
    jira_webhook_secret: SecretStr | None = None  # the admin webhook's secret

    # The report page (GET /report) and form posts (POST /v1/forms/{form_id})
    # Employees sign in with HTTP Basic "user:password" pairs (comma-separated), unless a
    # trusted SSO proxy in front sets report_trusted_user_header.
    report_users: Annotated[list[SecretStr], NoDecode] = Field(default_factory=list)
    report_trusted_user_header: str | None = None
    # Wrong Basic passwords a client address may give within the window before its
    # sign-ins are refused (429) until the oldest failure leaves the window.
    report_sign_in_max_failures: int = Field(default=10, ge=1)
    report_sign_in_window_s: float = Field(default=900.0, gt=0)
    # Signed-in names (comma-separated, as on the report page) who may read every signal's
    # status, with the target system's error text; employees see only their own.
    operators: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # Keys for GET /v1/insight only (a BI tool, a board-report script): the keys in
    # api_keys belong to integrations that post signals and cannot read the insight.
    insight_api_keys: Annotated[list[SecretStr], NoDecode] = Field(default_factory=list)
    # The triage page (/triage): signals waiting there that it holds (beyond, the oldest
    # are let go from the view), and recent reports as routed that a same-case correction
    # or a second click can name. Kept in each ingest process, as read from the topics.
    triage_max_waiting: int = Field(default=1000, ge=1)
    triage_recent_reports: int = Field(default=5000, ge=1)
    csrf_secret: SecretStr | None = None  # generated per process when unset
    max_attachment_bytes: int = Field(default=5_000_000, gt=0)
    max_form_bytes: int = Field(default=20_000_000, gt=0)  # a whole multipart form post

    @field_validator(
        "api_keys",
        "signal_addresses",
        "allowed_sender_domains",
        "report_users",
        "operators",
        "insight_api_keys",
        "smtp_relay_networks",
        "smtp_users",
        mode="before",
    )
    @classmethod
    def _split(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("api_keys", "insight_api_keys")
    @classmethod
    def _real_keys(cls, keys: list[SecretStr]) -> list[SecretStr]:
        return [check_secret(key, "API key") for key in keys]

    @field_validator(
        "slack_signing_secret",
        "chat_webhook_secret",
        "csrf_secret",
        "teams_hmac_secret",
        "report_trusted_user_header",
        "slack_bot_user_id",
        "smtp_tls_cert",
        "smtp_tls_key",
        "smtp_trusted_authserv_id",
        "zendesk_webhook_secret",
        "zendesk_url",
        "hubspot_client_secret",
        "hubspot_webhook_url",
        "jira_webhook_secret",
        mode="before",
    )
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        # `FOO=` in an env file or compose means "not configured", not "an empty secret".
        return None if value == "" else value

    @field_validator(
        "slack_signing_secret",
        "chat_webhook_secret",
        "csrf_secret",
        "zendesk_webhook_secret",
        "hubspot_client_secret",
        "jira_webhook_secret",
    )
    @classmethod
    def _real_secret(cls, value: SecretStr | None, info: ValidationInfo) -> SecretStr | None:
        return check_secret(value, str(info.field_name)) if value is not None else None

    @field_validator("smtp_relay_networks")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        from services.ingest.email.trust import parse_networks

        parse_networks(value)  # a typo fails the start-up, not every mail
        return value

    @field_validator("smtp_users")
    @classmethod
    def _smtp_users(cls, pairs: list[SecretStr]) -> list[SecretStr]:
        for position, pair in enumerate(pairs, start=1):
            user, sep, password = pair.get_secret_value().partition(":")
            if not sep or not user:
                raise ValueError(f"smtp_users entry {position} is not user:password")
            check_secret(SecretStr(password), f"smtp_users entry {position}'s password")
        return pairs

    @model_validator(mode="after")
    def _auth_needs_tls(self) -> Self:
        if (self.smtp_tls_cert is None) != (self.smtp_tls_key is None):
            raise ValueError("set both smtp_tls_cert and smtp_tls_key, or neither")
        if self.smtp_users and self.smtp_tls_cert is None:
            raise ValueError("smtp_users needs smtp_tls_cert/smtp_tls_key: AUTH only over STARTTLS")
        return self

    @field_validator("teams_hmac_secret")
    @classmethod
    def _base64(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            try:
                key = base64.b64decode(value.get_secret_value(), validate=True)
            except binascii.Error as exc:
                raise ValueError("teams_hmac_secret must be the base64 token Teams shows") from exc
            if len(key) < MIN_SECRET_LENGTH:
                raise ValueError("teams_hmac_secret is too short")
        return value
