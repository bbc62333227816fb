"""One HTTP call to a target system, with its failure mapped to a DeliveryError:
timeouts, connection failures, 429 and 5xx may succeed later (retryable, honouring
Retry-After); any other answer outside 2xx is final. A connector can accept statuses
it handles itself (a 404 meaning "not there yet") and name vendor answers that are
transient despite their status (Salesforce's 403 REQUEST_LIMIT_EXCEEDED).

``send`` maps only transport failures and returns any answer, for a connector that must
read a vendor's error before deciding (e.g. Zendesk's reused idempotency key); ``check``
then maps the answer like ``request`` does. A 2xx whose body cannot be understood is
final too (``json_object``). ``check_at_start`` is the start-up probe."""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any

import httpx

from services.connectors.base import DeliveryError, StartupError, UnintelligibleAnswer


def parse_retry_after(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None  # an HTTP-date: fall back to our own backoff


async def send(client: httpx.AsyncClient, method: str, url: str, **kwargs: Any) -> httpx.Response:
    try:
        return await client.request(method, url, **kwargs)
    except httpx.TimeoutException as exc:
        raise DeliveryError(f"timeout: {exc}", retryable=True) from exc
    except httpx.TransportError as exc:
        raise DeliveryError(f"connection failed: {exc}", retryable=True) from exc


def check(
    response: httpx.Response,
    *,
    accept: Collection[int] = (),
    transient: Callable[[httpx.Response], bool] | None = None,
) -> httpx.Response:
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


async def request(
    client: httpx.AsyncClient,
    method: str,
    url: str,
    *,
    accept: Collection[int] = (),
    transient: Callable[[httpx.Response], bool] | None = None,
    **kwargs: Any,
) -> httpx.Response:
    return check(await send(client, method, url, **kwargs), accept=accept, transient=transient)


async def check_at_start(client: httpx.AsyncClient, url: str, problem: str) -> None:
    """GET ``url`` before the first signal. A refusal (4xx other than 429) is a
    configuration problem: raise StartupError saying ``problem`` (what to fix; never a
    secret). A target that is down or busy is not: deliveries wait for it."""
    try:
        response = await send(client, "GET", url)
    except DeliveryError:
        return
    status = response.status_code
    if 400 <= status < 500 and status != 429:
        refused = " (the credentials were refused)" if status in (401, 403) else ""
        raise StartupError(f"{problem}: HTTP {status}{refused}")


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
