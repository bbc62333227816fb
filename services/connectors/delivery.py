"""The delivery engine: one routed signal, one connector, retries by the policy.
Sleeping is injected so that tests run without waiting."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from schemas import DeliveryResult, DeliveryStatus, RoutedSignal
from services.common.logging import fields
from services.connectors.base import Connector, DeliveryError
from services.connectors.retry import RetryPolicy, next_delay

log = logging.getLogger(__name__)
Sleep = Callable[[float], Awaitable[None]]


async def deliver_with_retries(
    connector: Connector,
    routed: RoutedSignal,
    policy: RetryPolicy,
    sleep: Sleep = asyncio.sleep,
) -> DeliveryResult:
    signal_id = routed.signal.signal_id
    attempt = 0
    while True:
        attempt += 1
        try:
            delivered = await connector.deliver(routed)
        except DeliveryError as exc:
            delay = next_delay(policy, attempt, exc.retry_after_s) if exc.retryable else None
            if delay is None:
                status = DeliveryStatus.failed if exc.retryable else DeliveryStatus.dead
                return _result(connector, routed, status, attempt, error=str(exc))
            log.info(
                "delivery attempt failed, retrying",
                extra=fields(
                    signal_id=signal_id,
                    destination=connector.context.destination,
                    attempt=attempt,
                    delay_s=round(delay, 2),
                    error=str(exc)[:200],
                ),
            )
            await sleep(delay)
            continue
        return _result(
            connector,
            routed,
            DeliveryStatus.delivered,
            attempt,
            external_id=delivered.external_id,
            external_url=delivered.external_url,
        )


def _result(
    connector: Connector,
    routed: RoutedSignal,
    status: DeliveryStatus,
    attempts: int,
    error: str | None = None,
    external_id: str | None = None,
    external_url: str | None = None,
) -> DeliveryResult:
    return DeliveryResult(
        signal_id=routed.signal.signal_id,
        destination=connector.context.destination,
        connector=connector.name,
        status=status,
        external_id=external_id,
        external_url=external_url,
        attempts=attempts,
        error=error[:2000] if error else None,
        at=datetime.now(UTC),
    )
