"""FastAPI dependencies: settings, the publisher, and the authenticated client.

All are ``async def``: FastAPI runs a plain ``def`` dependency in a worker thread, and
these do no blocking work that would justify a thread hop (and its wait for the GIL)
on every request."""

from __future__ import annotations

import functools
import hashlib
import hmac
import inspect
from collections.abc import Callable, Coroutine, Sequence
from typing import Annotated, Any

from fastapi import Depends, Header, HTTPException, Request, Response
from fastapi.routing import APIRoute
from pydantic import SecretStr

from services.ingest.idempotency import IdempotencyCache
from services.ingest.publisher import Publisher
from services.ingest.settings import IngestSettings


async def get_settings(request: Request) -> IngestSettings:
    settings: IngestSettings = request.app.state.settings
    return settings


async def get_publisher(request: Request) -> Publisher:
    publisher: Publisher = request.app.state.publisher
    return publisher


async def get_idempotency(request: Request) -> IdempotencyCache:
    cache: IdempotencyCache = request.app.state.idempotency
    return cache


SettingsDep = Annotated[IngestSettings, Depends(get_settings)]
PublisherDep = Annotated[Publisher, Depends(get_publisher)]
IdempotencyDep = Annotated[IdempotencyCache, Depends(get_idempotency)]


@functools.lru_cache(maxsize=64)  # only valid keys reach it (client_for): a few, in settings
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


def client_for(settings: IngestSettings, authorization: str | None, x_api_key: str | None) -> str:
    """The client's name for a valid API key in either header; 401 otherwise."""
    presented = presented_key(authorization, x_api_key)
    if presented is not None and key_matches(presented, settings.api_keys):
        return key_fingerprint(presented)
    raise HTTPException(401, "Missing or invalid API key", headers={"WWW-Authenticate": "Bearer"})


async def authenticated_client(
    settings: SettingsDep,
    authorization: Annotated[str | None, Header()] = None,
    x_api_key: Annotated[str | None, Header()] = None,
) -> str:
    return client_for(settings, authorization, x_api_key)


ClientDep = Annotated[str, Depends(authenticated_client)]


class KeyedRoute(APIRoute):
    """A route behind the API key that checks the key before FastAPI reads the body.

    FastAPI reads and parses a declared body before it solves any dependency, so
    ``ClientDep`` alone would come after a (chunked, large, slow) body was read. The key is
    a header: check it first, then hand over to FastAPI's own handler. The client's name
    is kept for the route (``keyed_client``)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        return self.keyed(super().get_route_handler())

    def keyed(
        self, handle: Callable[[Request], Coroutine[Any, Any, Response]]
    ) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        """``handle`` behind the API key and ``before_body``."""

        async def keyed(request: Request) -> Response:
            request.state.client = client_for(
                request.app.state.settings,
                request.headers.get("authorization"),
                request.headers.get("x-api-key"),
            )
            self.before_body(request)
            return await handle(request)

        return keyed

    def before_body(self, request: Request) -> None:
        """More header checks, once the key is known to be good."""


def keyed_client(request: Request) -> str:
    """The client a KeyedRoute authenticated for this request."""
    client: str = request.state.client
    return client


def check_json(content_type: str | None) -> None:
    media_type = (content_type or "").split(";")[0].strip().lower()
    if media_type != "application/json" and not media_type.endswith("+json"):
        raise HTTPException(415, "Send the signal as application/json")


class JsonKeyedRoute(KeyedRoute):
    """A KeyedRoute that also refuses a body that is not JSON (415), before reading it."""

    def before_body(self, request: Request) -> None:
        check_json(request.headers.get("content-type"))


class DirectJsonKeyedRoute(JsonKeyedRoute):
    """A JsonKeyedRoute whose endpoint takes the Request alone and returns a Response: it
    is awaited directly, not through FastAPI's request handler, which would solve the
    endpoint's (empty) dependencies and open an exit stack on every request. Its errors
    (HTTPException, RequestValidationError) reach the app's handlers as before."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        params = list(inspect.signature(self.endpoint).parameters.values())
        if [p.annotation for p in params] not in (["Request"], [Request]):
            raise TypeError(f"{self.path}: a direct endpoint takes (request: Request) only")
        endpoint: Callable[[Request], Coroutine[Any, Any, Response]] = self.endpoint
        return self.keyed(endpoint)
