"""How each medium's answers are judged: taken, try again later, or never."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from email.message import EmailMessage
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller
from pydantic import SecretStr

from services.common.broker import free_port
from services.connectors.base import DeliveryError
from services.notifier.addressing import Medium, SlackTo
from services.notifier.senders import MailRelay, Senders, SlackPoster, TeamsWebhook
from services.notifier.settings import NotifierSettings

TOKEN = "xoxb-unit-test-token-0123456789"
TEAMS = "https://bank.webhook.office.com/webhookb2/secret-part"


def settings(**values: Any) -> NotifierSettings:
    base: dict[str, Any] = {
        "slack_bot_token": SecretStr(TOKEN),
        "slack_api_url": "https://slack.test/api",
        "teams_notify_webhook_url": SecretStr(TEAMS),
        "notify_smtp_host": "127.0.0.1",
        "notify_smtp_port": 25,
        "notify_smtp_timeout_s": 5.0,
        "notify_from": "antenna@bank.example",
    }
    base.update(values)
    return NotifierSettings.model_construct(**base)  # the shell's environment plays no part


Handler = Callable[[httpx.Request], httpx.Response]


def client(handler: Handler, seen: list[httpx.Request]) -> httpx.AsyncClient:
    def record(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return handler(request)

    return httpx.AsyncClient(transport=httpx.MockTransport(record))


def post_to_slack(handler: Handler, to: SlackTo) -> list[httpx.Request]:
    seen: list[httpx.Request] = []

    async def run() -> None:
        async with client(handler, seen) as http:
            await SlackPoster(settings(), http).post(to, "It is now ticket #4711.")

    asyncio.run(run())
    return seen


def test_slack_gets_the_message_in_the_thread_with_the_bot_token() -> None:
    ok = {"ok": True, "channel": "C1", "ts": "1712345679.000300"}
    [request] = post_to_slack(lambda r: httpx.Response(200, json=ok), SlackTo("C1", "1712.1"))
    assert str(request.url) == "https://slack.test/api/chat.postMessage"
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert request.headers["Content-Type"] == "application/json"
    body = json.loads(request.content)
    assert body == {
        "channel": "C1",
        "text": "It is now ticket #4711.",
        "thread_ts": "1712.1",
        "unfurl_links": False,
    }


def test_a_dm_has_no_thread() -> None:
    ok = {"ok": True, "channel": "D1", "ts": "1.2"}
    [request] = post_to_slack(lambda r: httpx.Response(200, json=ok), SlackTo("U1"))
    assert "thread_ts" not in json.loads(request.content)


@pytest.mark.parametrize(
    ("status", "body", "headers", "retryable", "retry_after"),
    [
        (429, {"ok": False, "error": "ratelimited"}, {"Retry-After": "30"}, True, 30.0),
        (200, {"ok": False, "error": "ratelimited"}, {"Retry-After": "2"}, True, 2.0),
        (503, {"ok": False, "error": "service_unavailable"}, {}, True, None),
        (200, {"ok": False, "error": "invalid_auth"}, {}, True, None),
        (200, {"ok": False, "error": "token_revoked"}, {}, True, None),
        (200, {"ok": False, "error": "channel_not_found"}, {}, False, None),
        (200, {"ok": False, "error": "not_in_channel"}, {}, False, None),
        (200, {"ok": False, "error": "is_archived"}, {}, False, None),
        (400, {"ok": False, "error": "invalid_arguments"}, {}, False, None),
    ],
)
def test_slack_answers_are_judged(
    status: int,
    body: dict[str, Any],
    headers: dict[str, str],
    retryable: bool,
    retry_after: float | None,
) -> None:
    with pytest.raises(DeliveryError) as failed:
        post_to_slack(lambda r: httpx.Response(status, json=body, headers=headers), SlackTo("C1"))
    assert (failed.value.retryable, failed.value.retry_after_s) == (retryable, retry_after)


def test_slack_unreachable_is_tried_again() -> None:
    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    with pytest.raises(DeliveryError) as failed:
        post_to_slack(down, SlackTo("C1"))
    assert failed.value.retryable


def test_teams_gets_an_adaptive_card_on_its_webhook() -> None:
    seen: list[httpx.Request] = []

    async def run() -> None:
        async with client(lambda r: httpx.Response(200, text="1"), seen) as http:
            await TeamsWebhook(settings(), http).post("Hello Sanne, it is ticket #4711.")

    asyncio.run(run())
    [request] = seen
    assert str(request.url) == TEAMS
    body = json.loads(request.content)
    [attachment] = body["attachments"]
    assert body["type"] == "message"
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    assert attachment["content"]["type"] == "AdaptiveCard"
    assert attachment["content"]["body"][0]["text"] == "Hello Sanne, it is ticket #4711."


def test_teams_throttling_is_tried_again() -> None:
    seen: list[httpx.Request] = []

    async def run() -> None:
        async with client(lambda r: httpx.Response(429, headers={"Retry-After": "1"}), seen) as h:
            await TeamsWebhook(settings(), h).post("text")

    with pytest.raises(DeliveryError) as failed:
        asyncio.run(run())
    assert failed.value.retryable and failed.value.retry_after_s == 1.0


def test_only_configured_media_are_available() -> None:
    everything = Senders(settings())
    assert everything.available == frozenset(Medium)
    mail_only = Senders(settings(slack_bot_token=None, teams_notify_webhook_url=None))
    assert mail_only.available == {Medium.email}
    asyncio.run(everything.close())
    asyncio.run(mail_only.close())


class Relay:
    """A real SMTP server whose answer to RCPT and DATA a test chooses."""

    def __init__(self) -> None:
        self.rcpt = "250 OK"
        self.data = "250 OK"
        self.received: list[bytes] = []

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, _: Any):
        if self.rcpt.startswith("250"):
            envelope.rcpt_tos.append(address)
        return self.rcpt

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.data.startswith("250"):
            self.received.append(envelope.original_content)
        return self.data


@pytest.fixture
def relay() -> Iterator[tuple[Relay, int]]:
    handler, port = Relay(), free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    yield handler, port
    controller.stop()


def message() -> EmailMessage:
    m = EmailMessage()
    m["From"], m["To"], m["Subject"] = "antenna@bank.example", "sanne@bank.example", "Hi"
    m.set_content("It is ticket #4711.")
    return m


def send(port: int) -> None:
    asyncio.run(MailRelay(settings(notify_smtp_port=port)).send(message()))


def test_the_relay_takes_the_mail(relay: tuple[Relay, int]) -> None:
    handler, port = relay
    send(port)
    assert len(handler.received) == 1 and b"ticket #4711" in handler.received[0]


@pytest.mark.parametrize(
    ("rcpt", "data", "retryable"),
    [
        ("550 5.1.1 no such mailbox", "250 OK", False),
        ("450 4.2.1 mailbox busy", "250 OK", True),
        ("250 OK", "554 5.7.1 rejected as spam", False),
        ("250 OK", "451 4.3.0 try later", True),
    ],
)
def test_relay_answers_are_judged(
    relay: tuple[Relay, int], rcpt: str, data: str, retryable: bool
) -> None:
    handler, port = relay
    handler.rcpt, handler.data = rcpt, data
    with pytest.raises(DeliveryError) as failed:
        send(port)
    assert failed.value.retryable is retryable


def test_a_relay_that_is_down_is_tried_again() -> None:
    with pytest.raises(DeliveryError) as failed:
        send(free_port())
    assert failed.value.retryable
