"""A real HTTP server on loopback that stands in for a service desk or a CRM: it
records every request and answers from a per-path script of status codes."""

from __future__ import annotations

import json
import threading
import time
from collections import defaultdict
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Request:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class Recorder:
    def __init__(self) -> None:
        self.requests: list[Request] = []
        self.script: dict[str, list[int]] = defaultdict(list)  # statuses to answer first
        self._lock = threading.Lock()
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with recorder._lock:
                    recorder.requests.append(Request(self.path, dict(self.headers), body))
                    scripted = recorder.script[self.path]
                    status = scripted.pop(0) if scripted else 201
                    number = len(recorder.requests)
                payload = json.dumps({"id": f"EXT-{number}", "url": f"http://desk.test/{number}"})
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload.encode())

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def received(self, path: str) -> list[Request]:
        with self._lock:
            return [r for r in self.requests if r.path == path]

    def wait_for(
        self, path: str, predicate: Any, count: int = 1, timeout_s: float = 60
    ) -> list[Request]:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            matches = [r for r in self.received(path) if predicate(r)]
            if len(matches) >= count:
                return matches
            time.sleep(0.1)
        raise AssertionError(f"no {count} matching request(s) on {path} within {timeout_s}s")

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
