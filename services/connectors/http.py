"""One HTTP call to a target system, with its failure mapped to a DeliveryError:
timeouts, connection failures, 429 and 5xx may succeed later (retryable, honouring
Retry-After); any other answer outside 2xx is final, and so is a 2xx whose body cannot
be understood (``json_object``)."""

from __future__ import annotations

from typing import Any

import httpx

from services.connectors.base import DeliveryError, UnintelligibleAnswer


def parse_retry_after(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None  # an HTTP-date: fall back to our own backoff


async def request(
    client: httpx.AsyncClient, method: str, url: str, **kwargs: Any
) -> httpx.Response:
    try:
        response = await client.request(method, url, **kwargs)
    except httpx.TimeoutException as exc:
        raise DeliveryError(f"timeout: {exc}", retryable=True) from exc
    except httpx.TransportError as exc:
        raise DeliveryError(f"connection failed: {exc}", retryable=True) from exc
    status = response.status_code
    if status == 429 or status >= 500:
        raise DeliveryError(
            f"HTTP {status}",
            retryable=True,
            retry_after_s=parse_retry_after(response.headers.get("Retry-After")),
        )
    if status >= 300:
        raise DeliveryError(f"HTTP {status}: {response.text[:200]}", retryable=False)
    return response


def json_object(response: httpx.Response) -> dict[str, Any]:
    """The answer's JSON object. An HTML page from a proxy or a login portal, or JSON
    that is no object, is an answer we cannot understand: final, not a crash."""
    try:
        data = response.json()
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        kind = response.headers.get("Content-Type", "no content type").split(";")[0]
        raise UnintelligibleAnswer(
            f"HTTP {response.status_code} answer is not JSON ({kind})"
        ) from exc
    if not isinstance(data, dict):
        raise UnintelligibleAnswer(
            f"HTTP {response.status_code} answer is JSON {type(data).__name__}, not an object"
        )
    return data
