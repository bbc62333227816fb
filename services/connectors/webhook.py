"""Generic webhook connector: POST the routed signal as JSON, signed with HMAC-SHA256.

Headers: ``X-Antenna-Timestamp``, ``X-Antenna-Signature: v1=<hex>`` over
``"{timestamp}.{body}"``, and ``Idempotency-Key`` so that the receiver can drop a
redelivery: ``<signal_id>`` for a case, ``<signal_id>@<case id>`` for a note on a case
(ledger.delivery_key), so that a report an operator split off the case it had joined
opens its own ticket. 5xx, 429 and timeouts pause the destination; other 4xx, and a 2xx
that is an HTML page or broken JSON, are final."""

from __future__ import annotations

import time

import httpx
from pydantic import AnyHttpUrl, Field, SecretStr, field_validator

from schemas import RoutedSignal
from services.common.settings import check_secret
from services.common.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign
from services.connectors.base import (
    Connector,
    ConnectorConfig,
    ConnectorContext,
    Delivered,
    UnintelligibleAnswer,
)
from services.connectors.http import request
from services.connectors.ledger import delivery_key


class WebhookConfig(ConnectorConfig):
    url: AnyHttpUrl
    secret: SecretStr
    timeout_s: float = Field(default=10.0, gt=0)

    @field_validator("secret")
    @classmethod
    def _real_secret(cls, value: SecretStr) -> SecretStr:
        return check_secret(value, "webhook secret")


class WebhookConnector(Connector):
    name = "webhook"
    config_model = WebhookConfig

    def __init__(self, config: WebhookConfig, context: ConnectorContext) -> None:
        super().__init__(config, context)
        self.webhook = config
        self._client = httpx.AsyncClient(timeout=config.timeout_s)

    async def deliver(self, routed: RoutedSignal) -> Delivered:
        body = routed.model_dump_json().encode()
        timestamp = int(time.time())
        headers = {
            "Content-Type": "application/json",
            "Idempotency-Key": delivery_key(routed.signal.signal_id, routed.dedupe.cluster_id),
            TIMESTAMP_HEADER: str(timestamp),
            SIGNATURE_HEADER: sign(
                self.webhook.secret.get_secret_value().encode(), timestamp, body
            ),
            "User-Agent": "antenna-webhook/1",
            # A duplicate is a note for the case's existing ticket or lead, not a new one.
            "X-Antenna-Event": "signal.duplicate"
            if routed.dedupe.duplicate_of
            else "signal.routed",
        }
        response = await request(
            self._client, "POST", str(self.webhook.url), content=body, headers=headers
        )
        return _delivered_from(response)

    async def close(self) -> None:
        await self._client.aclose()


def _delivered_from(response: httpx.Response) -> Delivered:
    """Take an id and a link from the receiver's answer when it gives them. Any other
    2xx body is a receipt without them, except an HTML page: that is a proxy's or a login
    portal's answer, not the receiver's, so the signal is not marked delivered."""
    kind = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
    if "html" in kind:
        raise UnintelligibleAnswer(
            f"HTTP {response.status_code} answer is an HTML page ({kind}), not a receipt"
        )
    try:
        data = response.json()
    except ValueError:
        return Delivered()
    if not isinstance(data, dict):
        return Delivered()
    ident = data.get("id") or data.get("external_id")
    url = data.get("url") or data.get("external_url")
    return Delivered(
        external_id=str(ident) if ident is not None else None,
        external_url=str(url) if url is not None else None,
    )
