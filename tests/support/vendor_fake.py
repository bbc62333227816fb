"""What every stateful SaaS fake shares: a real HTTP server on loopback that checks
credentials, records each call, routes it to the vendor's handlers, and lets a test inject
the failures the vendor documents:

- ``fail(method, path, status)``: the vendor refuses before acting (429 with Retry-After,
  503, ...);
- ``lose_answer(method, path)``: the vendor acts (commits), then the connection drops
  before the answer is sent, so the client cannot know that it succeeded;
- ``search_lags``: records written while it is set stay invisible to the vendor's search
  until ``catch_up()``, like a search index that lags behind writes.

A vendor fake subclasses ``VendorFake`` and lists its routes as (method, path regex,
handler); a handler gets the call and the regex groups and returns a ``Reply``."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlsplit


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None

    def param(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[0] if values else default


@dataclass(frozen=True)
class Reply:
    status: int
    body: Any = None  # JSON-able, or bytes sent as they are
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class _Fault:
    method: str
    path: re.Pattern[str]
    times: int
    reply: Reply | None  # None: act, then drop the connection


Handler = Callable[..., Reply]


class VendorFake:
    routes: ClassVar[tuple[tuple[str, str, str], ...]] = ()  # (method, path regex, handler)

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.search_lags = False
        self._unindexed: set[str] = set()
        self._faults: list[_Fault] = []
        self.lock = threading.RLock()  # handlers run one at a time, like a serialised store
        self._routes = [(m, re.compile(p), getattr(self, h)) for m, p, h in self.routes]
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    # --- for subclasses ---------------------------------------------------------------

    def authorized(self, call: Call) -> bool:
        raise NotImplementedError

    def unauthorized(self) -> Reply:
        raise NotImplementedError

    def not_found(self, call: Call) -> Reply:
        return Reply(404, {"error": "not found"})

    def written(self, key: str) -> None:
        """A record was written: while the search lags, it waits for ``catch_up``."""
        if self.search_lags:
            self._unindexed.add(key)

    def searchable(self, key: str) -> bool:
        return key not in self._unindexed

    # --- for tests ----------------------------------------------------------------------

    def catch_up(self) -> None:
        with self.lock:
            self._unindexed.clear()

    def fail(
        self,
        method: str,
        path: str,
        status: int,
        times: int = 1,
        body: Any = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        reply = Reply(status, body, headers or {})
        with self.lock:
            self._faults.append(_Fault(method, re.compile(path), times, reply))

    def lose_answer(self, method: str, path: str, times: int = 1) -> None:
        with self.lock:
            self._faults.append(_Fault(method, re.compile(path), times, None))

    def received(self, method: str, path: str) -> list[Call]:
        pattern = re.compile(path)
        with self.lock:
            return [c for c in self.calls if c.method == method and pattern.fullmatch(c.path)]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    @classmethod
    @contextmanager
    def running(cls, *args: Any, **kwargs: Any) -> Iterator[Any]:
        fake = cls(*args, **kwargs)
        try:
            yield fake
        finally:
            fake.close()

    # --- the server ---------------------------------------------------------------------

    def _take_fault(self, call: Call) -> _Fault | None:
        for fault in self._faults:
            if fault.method == call.method and fault.path.fullmatch(call.path):
                fault.times -= 1
                if fault.times <= 0:
                    self._faults.remove(fault)
                return fault
        return None

    def _answer(self, call: Call) -> Reply | None:
        """The reply to send, or None to drop the connection without one."""
        with self.lock:
            self.calls.append(call)
            if not self.authorized(call):
                return self.unauthorized()
            fault = self._take_fault(call)
            if fault is not None and fault.reply is not None:
                return fault.reply
            for method, pattern, handler in self._routes:
                match = pattern.fullmatch(call.path)
                if method == call.method and match:
                    reply: Reply = handler(call, *match.groups())
                    break
            else:
                reply = self.not_found(call)
            return None if fault is not None and reply.status < 300 else reply

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                parts = urlsplit(self.path)
                call = Call(
                    self.command,
                    parts.path,
                    parse_qs(parts.query),
                    {k.lower(): v for k, v in self.headers.items()},
                    self.rfile.read(length),
                )
                reply = fake._answer(call)
                if reply is None:  # committed, but the answer is lost on the way
                    self.close_connection = True
                    return
                payload = (
                    reply.body
                    if isinstance(reply.body, bytes)
                    else b""
                    if reply.body is None
                    else json.dumps(reply.body).encode()
                )
                self.send_response(reply.status)
                if not isinstance(reply.body, bytes):
                    self.send_header("Content-Type", "application/json; charset=utf-8")
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_DELETE = _serve

            def log_message(self, *args: Any) -> None:
                pass

        return Handler
