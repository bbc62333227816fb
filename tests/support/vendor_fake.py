"""What every stateful vendor fake shares: a real HTTP server on loopback that checks
credentials, records each call, routes it to the vendor's handlers, and lets a test inject
the failures the vendor documents and a connector must survive:

- ``fail(method, path, reply)``: the vendor refuses before acting: its rate limit (429
  with Retry-After; Salesforce's 403 REQUEST_LIMIT_EXCEEDED), 503, a conflict, ...;
- ``lose_answer(method, path)``: the next matching call that succeeds is acted on (it
  commits), then the connection drops before the answer is sent, so the client cannot
  know that it succeeded; ``lost`` lists the calls whose answer was lost;
- ``search_lags``: records written while it is set stay invisible to the vendor's search
  until ``catch_up()``, like a search index that lags behind writes.

``method`` and ``path`` are regular expressions that must match the whole method and path;
``ANY`` matches every one (a rate limit that answers whatever is called next).

A vendor fake (zendesk_fake.py, jira_fake.py, hubspot_fake.py, salesforce_fake.py)
subclasses ``VendorFake``, sets up its state before calling ``__init__`` (which starts the
server), lists its routes as (method, path regex, handler name) and says how the vendor
checks credentials and answers 401 and 404. A handler gets the call and the regex groups
and returns a ``Reply``. Use a fake as a context manager, or ``close()`` it."""

from __future__ import annotations

import base64
import binascii
import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar, Self
from urllib.parse import parse_qs, urlsplit

ANY = ".*"


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # names in lower case
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None

    def form(self) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(self.body.decode()).items()}

    def param(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[0] if values else default

    def bearer(self) -> str | None:
        """The token of an ``Authorization: Bearer`` header."""
        scheme, _, token = self.headers.get("authorization", "").partition(" ")
        return token if scheme == "Bearer" and token else None

    def basic(self) -> tuple[str, str] | None:
        """User and password of an ``Authorization: Basic`` header."""
        scheme, _, encoded = self.headers.get("authorization", "").partition(" ")
        if scheme != "Basic":
            return None
        try:
            decoded = base64.b64decode(encoded, validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return None
        user, colon, password = decoded.partition(":")
        return (user, password) if colon else None


@dataclass(frozen=True)
class Reply:
    status: int
    body: Any = None  # JSON-able, or bytes sent as they are
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class _Fault:
    method: re.Pattern[str]
    path: re.Pattern[str]
    times: int
    reply: Reply | None  # None: act, then drop the connection


class VendorFake:
    routes: ClassVar[tuple[tuple[str, str, str], ...]] = ()  # (method, path regex, handler)

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.lost: list[Call] = []
        self.search_lags = False
        self.lock = threading.RLock()  # handlers run one at a time, like a serialised store
        self._unindexed: set[str] = set()
        self._faults: list[_Fault] = []
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
        raise NotImplementedError

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

    def fail(self, method: str, path: str, reply: Reply | int, times: int = 1) -> None:
        """The next ``times`` matching calls get ``reply`` (a status: with no body) and
        change nothing."""
        self._inject(method, path, times, Reply(reply) if isinstance(reply, int) else reply)

    def lose_answer(self, method: str, path: str, times: int = 1) -> None:
        self._inject(method, path, times, None)

    def received(self, method: str, path: str) -> list[Call]:
        with self.lock:
            return [c for c in self.calls if _matches(method, path, c)]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- the server ---------------------------------------------------------------------

    def _inject(self, method: str, path: str, times: int, reply: Reply | None) -> None:
        with self.lock:
            self._faults.append(_Fault(re.compile(method), re.compile(path), times, reply))

    def _take_fault(self, call: Call, losing: bool) -> _Fault | None:
        for fault in self._faults:
            if (fault.reply is None) == losing and _matches(fault.method, fault.path, call):
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
            refusal = self._take_fault(call, losing=False)
            if refusal is not None:
                return refusal.reply
            for method, pattern, handler in self._routes:
                match = pattern.fullmatch(call.path)
                if method == call.method and match:
                    reply: Reply = handler(call, *match.groups())
                    break
            else:
                return self.not_found(call)
            if reply.status < 300 and self._take_fault(call, losing=True):
                self.lost.append(call)
                return None
            return reply

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            wbufsize = -1  # one write per answer: no Nagle / delayed-ACK stall per request

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

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

            def log_message(self, *args: Any) -> None:
                pass

        return Handler


def _matches(method: str | re.Pattern[str], path: str | re.Pattern[str], call: Call) -> bool:
    return bool(re.fullmatch(method, call.method) and re.fullmatch(path, call.path))
