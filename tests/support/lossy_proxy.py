"""A loopback HTTP proxy that loses answers: it forwards a request to the real server,
lets it commit, then drops the connection without answering, for the first ``n``
requests that match. What a connector sees when a create's answer is lost."""

from __future__ import annotations

import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx

# (method, path, body) -> whether to lose this request's answer
Match = Callable[[str, str, bytes], bool]
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "host"}


class LossyProxy:
    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.rules: list[list[object]] = []  # [match, remaining]
        self.lost: list[str] = []
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def _forward(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
                answer = httpx.request(
                    self.command,
                    proxy.upstream + self.path,
                    content=body,
                    headers=headers,
                    timeout=30,
                )
                if proxy._lose(self.command, self.path, body):
                    self.close_connection = True  # committed upstream; the client hears nothing
                    return
                self.send_response(answer.status_code)
                for key, value in answer.headers.items():
                    if key.lower() not in HOP_BY_HOP | {"content-encoding"}:
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(answer.content)))
                self.end_headers()
                self.wfile.write(answer.content)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _forward

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()
        self._lock = threading.Lock()

    def lose(self, match: Match, times: int = 1) -> None:
        with self._lock:
            self.rules.append([match, times])

    def _lose(self, method: str, path: str, body: bytes) -> bool:
        with self._lock:
            for rule in self.rules:
                match, remaining = rule
                if remaining and match(method, path, body):  # type: ignore[operator]
                    rule[1] = int(remaining) - 1  # type: ignore[call-overload]
                    self.lost.append(f"{method} {path}")
                    return True
        return False

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
