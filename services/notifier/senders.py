"""The three ways to reach an employee. Each call sends one message or raises
``DeliveryError`` (the connectors' failure type): ``retryable`` when the channel may take
it later (down, timing out, rate limited, refusing our credentials), final when this
message can never go (an unknown recipient or channel)."""

from __future__ import annotations

import asyncio
import smtplib
import ssl
from email.message import EmailMessage
from typing import Any

import httpx

from services.connectors.base import DeliveryError
from services.connectors.http import parse_retry_after, request
from services.notifier.addressing import Medium, SlackTo
from services.notifier.settings import NotifierSettings

# chat.postMessage errors after which the same message can succeed later. Credentials
# count: a revoked token is fixed by an operator, and the messages wait for it.
SLACK_RETRYABLE = frozenset(
    {
        "ratelimited",
        "rate_limited",
        "internal_error",
        "fatal_error",
        "service_unavailable",
        "request_timeout",
        "invalid_auth",
        "not_authed",
        "account_inactive",
        "token_revoked",
        "token_expired",
        "missing_scope",
        "team_access_not_granted",
    }
)


class MailRelay:
    """One SMTP session per mail (smtplib, in a thread): STARTTLS and AUTH when set."""

    def __init__(self, settings: NotifierSettings) -> None:
        assert settings.notify_smtp_host is not None
        self.host = settings.notify_smtp_host
        self.port = settings.notify_smtp_port
        self.timeout_s = settings.notify_smtp_timeout_s
        self.starttls = settings.notify_smtp_starttls
        self.user = settings.notify_smtp_user
        self.password = settings.notify_smtp_password

    async def send(self, message: EmailMessage) -> None:
        await asyncio.to_thread(self._send, message)

    def _send(self, message: EmailMessage) -> None:
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout_s) as smtp:
                if self.starttls:
                    smtp.starttls(context=ssl.create_default_context())
                if self.user:
                    secret = self.password.get_secret_value() if self.password else ""
                    smtp.login(self.user, secret)
                smtp.send_message(message)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            raise DeliveryError(
                f"recipient refused: {codes}", retryable=any(c < 500 for c in codes)
            ) from None
        except smtplib.SMTPDataError as exc:  # this message refused (size, content)
            raise DeliveryError(f"message refused: {exc.smtp_code}", exc.smtp_code < 500) from None
        except smtplib.SMTPResponseException as exc:  # our sender or credentials: fixable
            raise DeliveryError(f"relay answered {exc.smtp_code}", retryable=True) from None
        except (OSError, smtplib.SMTPException) as exc:  # down, timeout, TLS, disconnect
            raise DeliveryError(f"relay unreachable: {type(exc).__name__}", True) from None


class SlackPoster:
    """chat.postMessage with the bot token (https://docs.slack.dev/reference/methods/
    chat.postMessage): HTTP 200 with ``ok`` true or ``ok`` false and an ``error``; a rate
    limit is HTTP 429 with Retry-After (https://docs.slack.dev/apis/web-api/rate-limits)."""

    def __init__(self, settings: NotifierSettings, client: httpx.AsyncClient) -> None:
        assert settings.slack_bot_token is not None
        self.url = f"{settings.slack_api_url}/chat.postMessage"
        self.token = settings.slack_bot_token
        self.client = client

    async def post(self, to: SlackTo, text: str) -> None:
        body: dict[str, Any] = {"channel": to.channel, "text": text, "unfurl_links": False}
        if to.thread_ts:
            body["thread_ts"] = to.thread_ts
        headers = {"Authorization": f"Bearer {self.token.get_secret_value()}"}
        response = await request(self.client, "POST", self.url, json=body, headers=headers)
        try:
            answer = response.json()
        except ValueError:
            raise DeliveryError("Slack answered something that is not JSON", True) from None
        if not isinstance(answer, dict):
            raise DeliveryError("Slack answered something that is not an object", True)
        if answer.get("ok") is True:
            return
        error = str(answer.get("error") or "unknown")
        raise DeliveryError(
            f"Slack: {error}",
            retryable=error in SLACK_RETRYABLE,
            retry_after_s=parse_retry_after(response.headers.get("Retry-After")),
        )


class TeamsWebhook:
    """An incoming webhook: a message with one Adaptive Card (https://learn.microsoft.com/
    microsoftteams/platform/webhooks-and-connectors/how-to/add-incoming-webhook). More than
    four requests a second are throttled with 429."""

    def __init__(self, settings: NotifierSettings, client: httpx.AsyncClient) -> None:
        assert settings.teams_notify_webhook_url is not None
        self.url = settings.teams_notify_webhook_url
        self.client = client

    async def post(self, text: str) -> None:
        card = {
            "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
            "type": "AdaptiveCard",
            "version": "1.4",
            "body": [{"type": "TextBlock", "text": text, "wrap": True}],
        }
        payload = {
            "type": "message",
            "attachments": [
                {"contentType": "application/vnd.microsoft.card.adaptive", "content": card}
            ],
        }
        await request(self.client, "POST", self.url.get_secret_value(), json=payload)


class Senders:
    """The media that are configured, and their clients."""

    def __init__(self, settings: NotifierSettings, client: httpx.AsyncClient | None = None):
        self.client = client or httpx.AsyncClient(timeout=settings.notify_http_timeout_s)
        self.mail = MailRelay(settings) if settings.notify_smtp_host else None
        self.slack = SlackPoster(settings, self.client) if settings.slack_bot_token else None
        self.teams = (
            TeamsWebhook(settings, self.client) if settings.teams_notify_webhook_url else None
        )

    @property
    def available(self) -> frozenset[Medium]:
        media = {Medium.email: self.mail, Medium.slack: self.slack, Medium.teams: self.teams}
        return frozenset(m for m, sender in media.items() if sender is not None)

    async def close(self) -> None:
        await self.client.aclose()
