"""A stateful fake of Slack's chat.postMessage, a real HTTP server on loopback.

The request and answer shapes follow Slack's documentation:

- https://docs.slack.dev/reference/methods/chat.postMessage : ``POST /api/chat.postMessage``
  with the bot token as ``Authorization: Bearer xoxb-...`` and a JSON (or form) body:
  ``channel`` (a channel or DM id, or a user id for the app's DM with that user) and
  ``text``; ``thread_ts``, the parent message's ts, makes it a reply in that thread. The
  answer is HTTP 200 ``{"ok": true, "channel": "C...", "ts": "...", "message": {...}}``,
  or HTTP 200 ``{"ok": false, "error": "<code>"}`` with codes such as
  ``channel_not_found``, ``not_in_channel``, ``invalid_auth``, ``not_authed``.
- https://docs.slack.dev/apis/web-api/rate-limits : past the limit (about one message a
  second per channel) Slack answers HTTP 429 Too Many Requests with ``Retry-After:
  <seconds>``; the body its SDKs report is ``{"ok": false, "error": "ratelimited"}``.

State: the channels the bot is in, the messages posted to each (with their thread), and
every call with the answer it got. ``rate_limit(n)`` makes the next n calls answer 429.
"""

from __future__ import annotations

import json
import threading
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.support.observed import Observed


@dataclass(frozen=True)
class Call:
    headers: dict[str, str]
    body: dict[str, Any]
    status: int
    answer: dict[str, Any]


class SlackFake:
    def __init__(self, token: str, channels: set[str]) -> None:
        self.token = token
        self.channels: dict[str, list[dict[str, Any]]] = {c: [] for c in channels}
        self.calls: Observed[Call] = Observed()
        self._rate_limited = 0
        self._retry_after = 1
        self._clock = 1_700_000_000.0
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                headers = {k.lower(): v for k, v in self.headers.items()}
                status, answer, extra = fake._answer(self.path, headers, raw)
                payload = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(payload)))
                for name, value in extra.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/api"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def rate_limit(self, calls: int, retry_after_s: int = 1) -> None:
        with self._lock:
            self._rate_limited, self._retry_after = calls, retry_after_s

    def _answer(
        self, path: str, headers: dict[str, str], raw: bytes
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        if headers.get("content-type", "").startswith("application/json"):
            body = json.loads(raw or b"{}")
        else:
            body = dict(urllib.parse.parse_qsl(raw.decode()))
        with self._lock:
            status, answer, extra = self._post(path, headers, body)
        self.calls.append(Call(headers, body, status, answer))
        return status, answer, extra

    def _post(
        self, path: str, headers: dict[str, str], body: dict[str, Any]
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        if path != "/api/chat.postMessage":
            return 404, {"ok": False, "error": "unknown_method"}, {}
        if self._rate_limited > 0:
            self._rate_limited -= 1
            retry = {"Retry-After": str(self._retry_after)}
            return 429, {"ok": False, "error": "ratelimited"}, retry
        authorization = headers.get("authorization", "")
        token = body.get("token") or authorization.removeprefix("Bearer ").strip()
        if not token:
            return 200, {"ok": False, "error": "not_authed"}, {}
        if token != self.token:
            return 200, {"ok": False, "error": "invalid_auth"}, {}
        channel = str(body.get("channel") or "")
        if channel.startswith("U"):  # a user id: the app's DM with that user
            channel = "D" + channel[1:]
            self.channels.setdefault(channel, [])
        if channel not in self.channels:
            return 200, {"ok": False, "error": "channel_not_found"}, {}
        if not body.get("text") and not body.get("blocks"):
            return 200, {"ok": False, "error": "no_text"}, {}
        self._clock += 1
        message = {
            "type": "message",
            "text": body.get("text", ""),
            "ts": f"{self._clock:.6f}",
            "bot_id": "B0ANTENNA",
        }
        if body.get("thread_ts"):
            message["thread_ts"] = str(body["thread_ts"])
        self.channels[channel].append(message)
        return 200, {"ok": True, "channel": channel, "ts": message["ts"], "message": message}, {}

    def messages(self, channel: str, thread_ts: str | None = None) -> list[dict[str, Any]]:
        with self._lock:
            posted = list(self.channels.get(channel, ()))
        return [m for m in posted if thread_ts is None or m.get("thread_ts") == thread_ts]

    def wait_for(
        self, predicate: Callable[[Call], bool], count: int = 1, timeout_s: float = 60
    ) -> list[Call]:
        """Block until ``count`` calls match ``predicate``; woken by each call."""
        return self.calls.wait_for(predicate, count, timeout_s)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
