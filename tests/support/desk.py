"""A service desk on loopback that behaves like a real webhook receiver: it checks the
HMAC signature and its freshness, opens one ticket per Idempotency-Key (a redelivery
gets the same ticket back, and is counted), can go down (nothing listens on its port)
and come back on the same port, and can be told how to answer particular signals."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from services.common.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, verify


@dataclass(frozen=True)
class Attempt:
    path: str
    key: str
    signal_id: str
    status: int


class Desk:
    def __init__(self, secret: str) -> None:
        self.secret = secret.encode()
        self.attempts: list[Attempt] = []
        self.tickets: dict[str, str] = {}  # Idempotency-Key -> ticket id, in creation order
        self.redelivered: list[str] = []  # keys posted again after their ticket existed
        self.answers: dict[str, int] = {}  # signal_id -> status to answer instead
        self.held: dict[str, threading.Event] = {}  # signal_id -> released when set
        self.arrived: set[str] = set()  # signal_ids whose request reached the desk
        self._changed = threading.Condition()
        self._server: ThreadingHTTPServer | None = None
        self.port = 0
        self.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        """Listen (again, on the same port)."""
        server = ThreadingHTTPServer(("127.0.0.1", self.port), self._handler())
        server.daemon_threads = True
        self.port = server.server_address[1]
        self._server = server
        threading.Thread(target=server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        """Stop listening: a connection is refused, as when the desk is down."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def wait_until(self, what: str, check: Callable[[], bool], timeout_s: float = 60) -> None:
        deadline = time.monotonic() + timeout_s
        with self._changed:
            while not check():
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"desk: {what} not within {timeout_s}s")
                self._changed.wait(left)

    def attempts_for(self, signal_id: str) -> list[Attempt]:
        with self._changed:
            return [a for a in self.attempts if a.signal_id == signal_id]

    def _receive(self, path: str, headers: Any, body: bytes) -> tuple[int, dict[str, Any]]:
        try:
            timestamp = int(headers.get(TIMESTAMP_HEADER, ""))
        except ValueError:
            return 401, {"error": "no timestamp"}
        signature = headers.get(SIGNATURE_HEADER, "")
        if not verify(self.secret, timestamp, body, signature, now=time.time()):
            return 401, {"error": "bad or stale signature"}
        key = headers.get("Idempotency-Key", "")
        signal_id = json.loads(body)["signal"]["signal_id"]
        with self._changed:
            self.arrived.add(signal_id)
            self._changed.notify_all()
        hold = self.held.get(signal_id)
        if hold is not None:
            hold.wait(30)
        with self._changed:
            status = self.answers.get(signal_id)
            if status is None and key in self.tickets:
                self.redelivered.append(key)
                status = 200
            elif status is None:
                self.tickets[key] = f"DESK-{len(self.tickets) + 1}"
                status = 201
            self.attempts.append(Attempt(path, key, signal_id, status))
            self._changed.notify_all()
        if status >= 300:
            return status, {"error": f"scripted {status}"}
        ticket = self.tickets[key]
        return status, {"id": ticket, "url": f"{self.url}/tickets/{ticket}"}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        desk = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                status, payload = desk._receive(self.path, self.headers, body)
                data = json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:
                    pass  # the connector was killed while we answered

            def log_message(self, *args: Any) -> None:
                pass

        return Handler


def webhooks_to(desk: Desk, secret: str) -> dict[str, str]:
    """Settings that deliver complaints to <desk>/desk and opportunities to <desk>/crm."""
    return {
        "ANTENNA_SERVICEDESK__CONNECTOR": "webhook",
        "ANTENNA_SERVICEDESK__URL": f"{desk.url}/desk",
        "ANTENNA_SERVICEDESK__SECRET": secret,
        "ANTENNA_CRM__CONNECTOR": "webhook",
        "ANTENNA_CRM__URL": f"{desk.url}/crm",
        "ANTENNA_CRM__SECRET": secret,
    }
