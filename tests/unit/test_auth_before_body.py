"""Who is asking is checked before a body is read: an unauthenticated request with a
large or endless chunked body is refused having read (almost) none of it.

The app is driven through ASGI directly, so the test counts exactly what the app pulled
with ``receive()``: bytes read, not time."""

from __future__ import annotations

import asyncio
import base64
from typing import Any

import pytest
from fastapi.routing import APIRoute
from starlette.types import Message

from services.ingest.app import create_app
from services.ingest.settings import IngestSettings
from tests.support.fakes import FakePublisher

KEY = "auth-before-body-key-0123456789"
CHUNK = b"x" * 65_536
GUARD_S = 10  # a failure bound, never a wait: the answer comes without a read


def _settings() -> IngestSettings:
    return IngestSettings.model_validate(
        {
            "api_keys": [KEY],
            "report_users": ["anna:anna-password-0123"],
            "slack_signing_secret": "slack-signing-secret-0123456789",
            "teams_hmac_secret": base64.b64encode(bytes(range(32))).decode(),
            "chat_webhook_secret": "chat-webhook-secret-0123456789",
            "zendesk_webhook_secret": "zendesk-signing-secret-0123456789",
            "hubspot_client_secret": "hubspot-client-secret-0123456789",
            "jira_webhook_secret": "jira-webhook-secret-0123456789",
            "max_body_bytes": 1_000_000,
            "max_form_bytes": 20_000_000,
            "max_email_bytes": 20_000_000,
        }
    )


def _api_routes(routes: list[Any]) -> list[APIRoute]:
    """Every APIRoute, also inside included routers (no include prefixes are used)."""
    found: list[APIRoute] = []
    for route in routes:
        if isinstance(route, APIRoute):
            found.append(route)
        elif hasattr(route, "original_router"):
            found.extend(_api_routes(route.original_router.routes))
    return found


APP = create_app(_settings(), publisher=FakePublisher())
POST_PATHS = sorted(
    route.path.replace("{form_id}", "contact")
    for route in _api_routes(APP.routes)
    if "POST" in route.methods
)


async def _call(path: str, headers: list[tuple[bytes, bytes]]) -> tuple[int, int]:
    """(status, body bytes the app pulled) for a POST whose chunked body never ends."""
    pulled = 0
    sent: list[Message] = []

    async def receive() -> Message:
        nonlocal pulled
        pulled += len(CHUNK)
        await asyncio.sleep(0)  # a slow sender: one chunk per turn of the loop
        return {"type": "http.request", "body": CHUNK, "more_body": True}

    async def send(message: Message) -> None:
        sent.append(message)

    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"ingest"), (b"transfer-encoding", b"chunked"), *headers],
        "client": ("192.0.2.7", 40000),
        "server": ("ingest", 8000),
        "app": APP,
    }
    await asyncio.wait_for(APP(scope, receive, send), GUARD_S)
    [start] = [m for m in sent if m["type"] == "http.response.start"]
    return start["status"], pulled


def test_every_post_route_is_covered() -> None:
    assert POST_PATHS == [
        "/report",
        "/report/preferences",
        "/triage",
        "/triage/case",
        "/v1/chat/slack",
        "/v1/chat/teams",
        "/v1/chat/webhook",
        "/v1/email/inbound",
        "/v1/forms/contact",
        "/v1/outcomes/hubspot",
        "/v1/outcomes/jira",
        "/v1/outcomes/zendesk",
        "/v1/signals",
    ]


@pytest.mark.parametrize("path", POST_PATHS)
@pytest.mark.parametrize(
    "content_type", [b"application/json", b"application/x-www-form-urlencoded", b"message/rfc822"]
)
def test_an_unauthenticated_body_is_refused_unread(path: str, content_type: bytes) -> None:
    status, pulled = asyncio.run(_call(path, [(b"content-type", content_type)]))
    assert status == 401
    assert pulled == 0


@pytest.mark.parametrize(
    ("path", "headers"),
    [
        ("/v1/signals", [(b"authorization", b"Bearer wrong-key-0123456789")]),
        ("/v1/forms/contact", [(b"x-api-key", b"wrong-key-0123456789")]),
        ("/v1/email/inbound", [(b"authorization", b"Bearer " + b"k" * 40)]),
        ("/report", [(b"authorization", b"Basic " + base64.b64encode(b"anna:wrong"))]),
        (
            "/report/preferences",
            [(b"authorization", b"Basic " + base64.b64encode(b"anna:wrong"))],
        ),
        ("/triage", [(b"authorization", b"Basic " + base64.b64encode(b"anna:wrong"))]),
        ("/triage/case", [(b"authorization", b"Basic " + base64.b64encode(b"anna:wrong"))]),
        # Signature headers that cannot be right, whatever the body: stale or malformed.
        ("/v1/chat/slack", [(b"x-slack-request-timestamp", b"1"), (b"x-slack-signature", b"v0=0")]),
        (
            "/v1/chat/webhook",
            [(b"x-antenna-timestamp", b"soon"), (b"x-antenna-signature", b"v1=0")],
        ),
        ("/v1/chat/teams", [(b"authorization", b"Bearer abc")]),
        (
            "/v1/outcomes/zendesk",
            [
                (b"x-zendesk-webhook-signature-timestamp", b"2020-01-01T00:00:00Z"),
                (b"x-zendesk-webhook-signature", b"c2lnbmF0dXJl"),
            ],
        ),
        (
            "/v1/outcomes/hubspot",
            [(b"x-hubspot-request-timestamp", b"1000"), (b"x-hubspot-signature-v3", b"c2ln")],
        ),
    ],
)
def test_a_wrong_credential_is_refused_unread(
    path: str, headers: list[tuple[bytes, bytes]]
) -> None:
    status, pulled = asyncio.run(_call(path, [(b"content-type", b"application/json"), *headers]))
    assert status == 401
    assert pulled == 0


@pytest.mark.parametrize(
    ("path", "credential"),
    [
        ("/v1/signals", (b"authorization", f"Bearer {KEY}".encode())),
        # Jira signs the body alone: a signature can only be checked once the body is read.
        ("/v1/outcomes/jira", (b"x-hub-signature", b"sha256=" + b"0" * 64)),
    ],
)
def test_an_authenticated_endless_body_stops_at_the_limit(
    path: str, credential: tuple[bytes, bytes]
) -> None:
    """Past the key, a chunked body is read only up to the limit, then 413."""
    status, pulled = asyncio.run(_call(path, [(b"content-type", b"application/json"), credential]))
    assert status == 413
    assert pulled <= 1_000_000 + len(CHUNK)
