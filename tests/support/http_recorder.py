"""A real HTTP server on loopback that stands in for a service desk or a CRM: it checks
each request's webhook signature as a receiver should (services/common/signing.py),
records the requests it accepts and answers from a per-path script of status codes.
A request with a missing, wrong or stale signature gets 401 and is kept in ``refused``."""

from __future__ import annotations

import json
import threading
import time
from collections import defaultdict
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from services.common.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, verify
from tests.support.services import WEBHOOK_SECRET


@dataclass(frozen=True)
class Request:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def signed(request: Request, secret: str) -> bool:
    timestamp = request.headers.get(TIMESTAMP_HEADER, "")
    signature = request.headers.get(SIGNATURE_HEADER, "")
    if not timestamp.isdigit():
        return False
    return verify(secret.encode(), int(timestamp), request.body, signature, now=time.time())


class Recorder:
    def __init__(self, secret: str = WEBHOOK_SECRET) -> None:
        self.secret = secret
        self.requests: list[Request] = []  # accepted: correctly signed
        self.refused: list[Request] = []  # answered 401
        self.script: dict[str, list[int]] = defaultdict(list)  # statuses to answer first
        self._changed = threading.Condition()
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                request = Request(self.path, dict(self.headers), body)
                with recorder._changed:
                    if signed(request, recorder.secret):
                        recorder.requests.append(request)
                        scripted = recorder.script[self.path]
                        status = scripted.pop(0) if scripted else 201
                        number = len(recorder.requests)
                        answer = {"id": f"EXT-{number}", "url": f"http://desk.test/{number}"}
                    else:
                        recorder.refused.append(request)
                        status, answer = 401, {"error": "invalid signature"}
                    recorder._changed.notify_all()
                payload = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def received(self, path: str) -> list[Request]:
        with self._changed:
            return [r for r in self.requests if r.path == path]

    def wait_for(
        self, path: str, predicate: Any, count: int = 1, timeout_s: float = 60
    ) -> list[Request]:
        """Wait, woken by each request, until ``count`` accepted ones on ``path`` match."""
        deadline = time.monotonic() + timeout_s
        with self._changed:
            while True:
                matches = [r for r in self.requests if r.path == path and predicate(r)]
                if len(matches) >= count:
                    return matches
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        f"no {count} matching request(s) on {path} within {timeout_s}s"
                    )
                self._changed.wait(left)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
