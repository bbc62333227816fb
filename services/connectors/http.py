"""One HTTP call to a target system, with its failure mapped to a DeliveryError:
timeouts, connection failures, 429 and 5xx may succeed later (retryable, honouring
Retry-After); any other answer outside 2xx is final. A connector can accept statuses
it handles itself (a 404 meaning "not there yet") and name vendor answers that are
transient despite their status (Salesforce's 403 REQUEST_LIMIT_EXCEEDED)."""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any

import httpx

from services.connectors.base import DeliveryError


def parse_retry_after(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None  # an HTTP-date: fall back to our own backoff


async def request(
    client: httpx.AsyncClient,
    method: str,
    url: str,
    *,
    accept: Collection[int] = (),
    transient: Callable[[httpx.Response], bool] | None = None,
    **kwargs: Any,
) -> httpx.Response:
    try:
        response = await client.request(method, url, **kwargs)
    except httpx.TimeoutException as exc:
        raise DeliveryError(f"timeout: {exc}", retryable=True) from exc
    except httpx.TransportError as exc:
        raise DeliveryError(f"connection failed: {exc}", retryable=True) from exc
    status = response.status_code
    if status in accept:
        return response
    if status == 429 or status >= 500 or (transient is not None and transient(response)):
        raise DeliveryError(
            f"HTTP {status}",
            retryable=True,
            retry_after_s=parse_retry_after(response.headers.get("Retry-After")),
        )
    if status >= 300:
        raise DeliveryError(f"HTTP {status}: {response.text[:200]}", retryable=False)
    return response
