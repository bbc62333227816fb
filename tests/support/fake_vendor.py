"""What every stateful vendor fake shares: a real HTTP server on loopback, routes by
method and path pattern, and the faults a connector must survive, injected per test:

- ``throttle(n, ...)``: the next n requests get the vendor's rate-limit answer;
- ``lose(match)``: the next matching request is handled (it commits) and then the
  connection is dropped without an answer;
- ``lag_s``: search results leave out records younger than this.

Each vendor fake (fake_hubspot.py, fake_salesforce.py) adds its routes and state."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body or b"null")

    def form(self) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(self.body.decode()).items()}


@dataclass
class Answer:
    status: int
    body: Any = None
    headers: dict[str, str] | None = None


Handler = Callable[..., Answer]
Match = Callable[[Request], bool]


class FakeVendor:
    def __init__(self) -> None:
        self.routes: list[tuple[str, re.Pattern[str], Handler]] = []
        self.requests: list[Request] = []
        self.lag_s = 0.0
        self.lock = threading.RLock()
        self._throttled: list[Answer] = []
        self._lose: list[Match] = []
        self.lost: list[str] = []
        fake = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            wbufsize = -1  # one write per answer: no Nagle / delayed-ACK stall per request

            def log_message(self, *args: object) -> None:
                pass

            def _serve(self) -> None:
                url = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                req = Request(
                    self.command,
                    url.path,
                    parse_qs(url.query),
                    {k.lower(): v for k, v in self.headers.items()},
                    self.rfile.read(length),
                )
                answer, lost = fake._handle(req)
                if lost:
                    self.close_connection = True  # committed; the client hears nothing
                    return
                body = b"" if answer.body is None else json.dumps(answer.body).encode()
                self.send_response(answer.status)
                for key, value in (answer.headers or {}).items():
                    self.send_header(key, value)
                if body:
                    self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()

    def route(self, method: str, pattern: str, handler: Handler) -> None:
        self.routes.append((method, re.compile(pattern + "$"), handler))

    def throttle(self, times: int, answer: Answer) -> None:
        with self.lock:
            self._throttled += [answer] * times

    def lose(self, match: Match) -> None:
        with self.lock:
            self._lose.append(match)

    def authorised(self, req: Request) -> bool:
        raise NotImplementedError

    def limited(self, req: Request) -> bool:
        """Whether the vendor's rate limit applies to this request."""
        return True

    def unauthorised(self) -> Answer:
        raise NotImplementedError

    def not_found(self) -> Answer:
        raise NotImplementedError

    def _handle(self, req: Request) -> tuple[Answer, bool]:
        with self.lock:
            self.requests.append(req)
            matches = (
                (handler, found)
                for method, pattern, handler in self.routes
                if method == req.method and (found := pattern.match(req.path))
            )
            route = next(matches, None)
            if route is None:
                return self.not_found(), False
            handler, found = route
            if not self.authorised(req):
                return self.unauthorised(), False
            if self._throttled and self.limited(req):
                return self._throttled.pop(0), False
            answer = handler(req, *found.groups())
            lose = next((m for m in self._lose if m(req)), None)
            if lose is not None and answer.status < 300:
                self._lose.remove(lose)
                self.lost.append(f"{req.method} {req.path}")
                return answer, True
            return answer, False

    def visible(self, created_at: float) -> bool:
        """Whether search shows a record created at ``created_at`` yet."""
        return time.monotonic() - created_at >= self.lag_s

    def calls(self, method: str, prefix: str) -> int:
        return sum(1 for r in self.requests if r.method == method and r.path.startswith(prefix))

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
