"""Request Tracker answers that cannot be understood are final failures, not crashes.
(The connector itself is tested against a real RT in tests/integration.)"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import httpx
import pytest

from services.connectors.base import ConnectorContext, UnintelligibleAnswer
from services.connectors.request_tracker import RequestTrackerConfig, RequestTrackerConnector

CONTEXT = ConnectorContext("servicedesk", Path("unused"))
TOKEN = "rt-token-0123456789abcdef"
LOGIN_PAGE = b"<!DOCTYPE html><html><body>Corporate proxy: please sign in</body></html>"


def _answering(status: int, body: bytes, content_type: str) -> RequestTrackerConnector:
    connector = RequestTrackerConnector(
        RequestTrackerConfig(url="https://rt.example", token=TOKEN), CONTEXT
    )

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, content=body, headers={"Content-Type": content_type})

    connector._client = httpx.AsyncClient(
        base_url="https://rt.example/REST/2.0/", transport=httpx.MockTransport(handler)
    )
    return connector


def _deliver(connector: RequestTrackerConnector, routed) -> None:
    async def go() -> None:
        try:
            await connector.deliver(routed)
        finally:
            await connector.close()

    asyncio.run(go())


@pytest.mark.parametrize(
    ("body", "content_type", "says"),
    [
        (LOGIN_PAGE, "text/html", "not JSON (text/html)"),  # seen: JSONDecodeError
        (b"[1, 2]", "application/json", "not an object"),
        (b'{"items": [{"type": "ticket"}]}', "application/json", "without a ticket id"),
    ],
)
def test_an_answer_that_cannot_be_understood_is_final(make_routed, body, content_type, says):
    with pytest.raises(UnintelligibleAnswer, match=re.escape(says)) as info:
        _deliver(_answering(200, body, content_type), make_routed())
    assert info.value.retryable is False
