"""Refuse request bodies over the configured size with 413, without buffering them.

Nothing here reads a body: the route does, and only after it has checked who is asking
(API key, signature headers, sign-in). A declared Content-Length over the limit is refused
at once; a chunked body is counted as the route reads it, and the read that crosses the
limit raises 413. So an unauthenticated request is answered 401 having had at most what
the server buffered on its own read from the socket, however large or slow its body."""

from __future__ import annotations

import json

from fastapi import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class BodySizeLimit:
    """``max_bytes`` for every path, except the path prefixes in ``larger`` (uploads:
    raw e-mail, forms with attachments), which get their own limit."""

    def __init__(self, app: ASGIApp, max_bytes: int, larger: dict[str, int] | None = None) -> None:
        self.app = app
        self.default_max = max_bytes
        self.larger = larger or {}

    def limit_for(self, path: str) -> int:
        for prefix, limit in self.larger.items():
            if path.startswith(prefix):
                return limit
        return self.default_max

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        max_bytes = self.limit_for(scope["path"])
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > max_bytes:
            await self._refuse(send, max_bytes)
            return
        size = 0

        async def counted() -> Message:
            nonlocal size
            message = await receive()
            if message["type"] == "http.request":
                size += len(message.get("body", b""))
                if size > max_bytes:
                    # Raised into the route's read; the app's handler answers 413.
                    raise HTTPException(
                        413, f"Request body too large: the limit is {max_bytes} bytes"
                    )
            return message

        await self.app(scope, counted, send)

    async def _refuse(self, send: Send, max_bytes: int) -> None:
        body = json.dumps(
            {
                "type": "about:blank",
                "title": "Request body too large",
                "status": 413,
                "detail": f"limit is {max_bytes} bytes",
            }
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/problem+json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
