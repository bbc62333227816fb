"""FastAPI dependencies: settings, the publisher, and the authenticated client."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Coroutine, Sequence
from typing import Annotated, Any

from fastapi import Depends, Header, HTTPException, Request, Response
from fastapi.routing import APIRoute
from pydantic import SecretStr

from services.ingest.idempotency import IdempotencyCache
from services.ingest.publisher import Publisher
from services.ingest.settings import IngestSettings


def get_settings(request: Request) -> IngestSettings:
    settings: IngestSettings = request.app.state.settings
    return settings


def get_publisher(request: Request) -> Publisher:
    publisher: Publisher = request.app.state.publisher
    return publisher


def get_idempotency(request: Request) -> IdempotencyCache:
    cache: IdempotencyCache = request.app.state.idempotency
    return cache


SettingsDep = Annotated[IngestSettings, Depends(get_settings)]
PublisherDep = Annotated[Publisher, Depends(get_publisher)]
IdempotencyDep = Annotated[IdempotencyCache, Depends(get_idempotency)]


def key_fingerprint(key: str) -> str:
    """A stable, non-secret name for an API key: it becomes the signal's ``source``."""
    return "api-key-" + hashlib.sha256(key.encode()).hexdigest()[:10]


def presented_key(authorization: str | None, x_api_key: str | None) -> str | None:
    """The key a request presents: ``Authorization: Bearer …`` or ``X-API-Key: …``."""
    if authorization and authorization.lower().startswith("bearer "):
        return authorization[7:].strip() or None
    return x_api_key or None


def key_matches(presented: str | None, keys: Sequence[SecretStr]) -> bool:
    """Constant-time against every key: which one matched, or that none did, takes as long."""
    if not presented:
        return False
    matched = False
    for key in keys:
        matched |= hmac.compare_digest(presented.encode(), key.get_secret_value().encode())
    return matched


def authenticated_client(
    settings: SettingsDep,
    authorization: Annotated[str | None, Header()] = None,
    x_api_key: Annotated[str | None, Header()] = None,
) -> str:
    presented = presented_key(authorization, x_api_key)
    if presented is not None and key_matches(presented, settings.api_keys):
        return key_fingerprint(presented)
    raise HTTPException(401, "Missing or invalid API key", headers={"WWW-Authenticate": "Bearer"})


ClientDep = Annotated[str, Depends(authenticated_client)]


class KeyedRoute(APIRoute):
    """A route behind the API key that checks the key before FastAPI reads the body.

    FastAPI reads and parses a declared body before it solves any dependency, so
    ``ClientDep`` alone would come after a (chunked, large, slow) body was read. The key is
    a header: check it first, then hand over to FastAPI's own handler."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handle = super().get_route_handler()

        async def keyed(request: Request) -> Response:
            authenticated_client(
                request.app.state.settings,
                request.headers.get("authorization"),
                request.headers.get("x-api-key"),
            )
            return await handle(request)

        return keyed


def require_json(content_type: Annotated[str | None, Header()] = None) -> None:
    media_type = (content_type or "").split(";")[0].strip().lower()
    if media_type != "application/json" and not media_type.endswith("+json"):
        raise HTTPException(415, "Send the signal as application/json")
