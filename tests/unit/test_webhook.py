"""WebhookConnector against a real HTTP server on 127.0.0.1 (no mocks of httpx)."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import socket
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from pydantic import ValidationError

from services.connectors import registry
from services.connectors.base import (
    ConnectorContext,
    Delivered,
    DeliveryError,
    UnintelligibleAnswer,
)
from services.connectors.outbox import OutboxConnector
from services.connectors.webhook import WebhookConfig, WebhookConnector
from tests.support.builders import build_duplicate

SECRET = "a-real-webhook-secret-0123456789"
CONTEXT = ConnectorContext("servicedesk", Path("var"))


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


class Receiver:
    """What the fake target system saw, and how it should answer the next request."""

    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self.mode = "ok"
        self.release = threading.Event()
        self.url = ""


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            headers = {k.lower(): v for k, v in self.headers.items()}
            receiver.requests.append(Recorded("POST", self.path, headers, body))
            mode = receiver.mode
            if mode == "slow":
                receiver.release.wait(5)
                return
            status, extra, payload = {
                "ok": (200, {}, {"id": "T-1", "url": "https://desk.example/tickets/T-1"}),
                "plain": (200, {}, None),
                "error": (500, {}, {"error": "boom"}),
                "busy": (429, {"Retry-After": "7"}, {"error": "slow down"}),
                "bad": (400, {}, {"error": "missing field queue"}),
                "proxy": (200, {"Content-Type": "text/html; charset=utf-8"}, None),
            }[mode]
            data = json.dumps(payload).encode() if payload is not None else b"thanks"
            if mode == "proxy":
                data = b"<html><body>Please sign in to continue</body></html>"
            try:
                self.send_response(status)
                for name, value in extra.items():
                    self.send_header(name, value)
                if "Content-Type" not in extra:
                    self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except OSError:
                pass

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


@pytest.fixture
def receiver(monkeypatch):
    for name in (
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "http_proxy",
        "https_proxy",
        "all_proxy",
    ):
        monkeypatch.delenv(name, raising=False)
    rec = Receiver()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(rec))
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    rec.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/antenna"
    yield rec
    rec.release.set()
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def _deliver(url: str, routed, timeout_s: float = 5.0) -> Delivered:
    async def go() -> Delivered:
        connector = WebhookConnector(
            WebhookConfig(url=url, secret=SECRET, timeout_s=timeout_s), CONTEXT
        )
        try:
            return await connector.deliver(routed)
        finally:
            await connector.close()

    return asyncio.run(go())


def test_posts_the_routed_signal_as_json(receiver, make_routed) -> None:
    routed = make_routed()
    _deliver(receiver.url, routed)
    [request] = receiver.requests
    assert request.path == "/hooks/antenna"
    assert request.body == routed.model_dump_json().encode()
    assert request.headers["content-type"] == "application/json"
    assert request.headers["idempotency-key"] == routed.signal.signal_id


def test_a_note_and_the_same_report_as_a_case_have_different_idempotency_keys(
    receiver, make_routed
) -> None:
    """A receiver that drops redeliveries by Idempotency-Key still opens a ticket for a
    report an operator split off the case it had been noted on."""
    first = make_routed()
    note = build_duplicate(first)
    own_case = make_routed(note.signal)
    _deliver(receiver.url, note)
    _deliver(receiver.url, own_case)
    keys = [(r.headers["x-antenna-event"], r.headers["idempotency-key"]) for r in receiver.requests]
    report, case = note.signal.signal_id, first.signal.signal_id
    assert keys == [("signal.duplicate", f"{report}@{case}"), ("signal.routed", report)]


def test_signature_verifies_independently(receiver, make_routed) -> None:
    _deliver(receiver.url, make_routed())
    [request] = receiver.requests
    timestamp = request.headers["x-antenna-timestamp"]
    assert timestamp.isdigit()
    expected = hmac.new(
        SECRET.encode(), timestamp.encode() + b"." + request.body, hashlib.sha256
    ).hexdigest()
    assert request.headers["x-antenna-signature"] == f"v1={expected}"


def test_200_gives_delivered_with_the_ticket(receiver, make_routed) -> None:
    delivered = _deliver(receiver.url, make_routed())
    assert delivered == Delivered(
        external_id="T-1", external_url="https://desk.example/tickets/T-1"
    )


def test_200_without_json_gives_delivered_without_ids(receiver, make_routed) -> None:
    receiver.mode = "plain"
    assert _deliver(receiver.url, make_routed()) == Delivered()


def test_an_html_200_from_a_proxy_is_not_a_receipt(receiver, make_routed) -> None:
    # Seen: a proxy's HTML page with 200 counted as delivered (or raised JSONDecodeError).
    receiver.mode = "proxy"
    with pytest.raises(UnintelligibleAnswer) as info:
        _deliver(receiver.url, make_routed())
    assert info.value.retryable is False
    assert "HTML" in str(info.value)


def test_500_is_retryable(receiver, make_routed) -> None:
    receiver.mode = "error"
    with pytest.raises(DeliveryError) as info:
        _deliver(receiver.url, make_routed())
    assert info.value.retryable is True
    assert info.value.retry_after_s is None
    assert "500" in str(info.value)
    assert len(receiver.requests) == 1


def test_429_is_retryable_after_the_given_seconds(receiver, make_routed) -> None:
    receiver.mode = "busy"
    with pytest.raises(DeliveryError) as info:
        _deliver(receiver.url, make_routed())
    assert info.value.retryable is True
    assert info.value.retry_after_s == 7.0


def test_400_is_final(receiver, make_routed) -> None:
    receiver.mode = "bad"
    with pytest.raises(DeliveryError) as info:
        _deliver(receiver.url, make_routed())
    assert info.value.retryable is False
    assert "HTTP 400" in str(info.value)
    assert "missing field queue" in str(info.value)


def test_timeout_is_retryable(receiver, make_routed) -> None:
    receiver.mode = "slow"
    with pytest.raises(DeliveryError) as info:
        _deliver(receiver.url, make_routed(), timeout_s=0.3)
    assert info.value.retryable is True
    assert str(info.value).startswith("timeout")
    assert len(receiver.requests) == 1


def test_connection_refused_is_retryable(make_routed) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    # Nothing listens on the port any more.
    with pytest.raises(DeliveryError) as info:
        _deliver(f"http://127.0.0.1:{port}/hook", make_routed(), timeout_s=2.0)
    assert info.value.retryable is True
    assert str(info.value).startswith("connection failed")


@pytest.mark.parametrize(
    ("secret", "message"),
    [
        ("changeme", "placeholder"),
        ("CHANGEME ", "placeholder"),
        ("abcde", "at least 16"),
    ],
)
def test_config_rejects_weak_secrets(secret: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        WebhookConfig(url="https://desk.example/hook", secret=secret)


def test_config_rejects_a_non_http_url() -> None:
    with pytest.raises(ValidationError):
        WebhookConfig(url="ftp://desk.example/hook", secret=SECRET)


def test_config_rejects_unknown_options() -> None:
    with pytest.raises(ValidationError):
        WebhookConfig(url="https://desk.example/hook", secret=SECRET, retries=3)


def test_registry_builds_a_webhook_connector() -> None:
    connector = registry.build(
        "webhook", {"url": "https://desk.example/hook", "secret": SECRET, "timeout_s": 3}, CONTEXT
    )
    try:
        assert isinstance(connector, WebhookConnector)
        assert str(connector.webhook.url) == "https://desk.example/hook"
        assert connector.webhook.timeout_s == 3.0
        assert connector.context is CONTEXT
    finally:
        asyncio.run(connector.close())


def test_registry_validates_options_with_the_plugin_model() -> None:
    with pytest.raises(ValidationError):
        registry.build(
            "webhook", {"url": "https://desk.example/hook", "secret": "changeme"}, CONTEXT
        )


def test_registry_lists_the_builtin_connectors(tmp_path) -> None:
    assert {"outbox", "webhook"} <= set(registry.available())
    assert registry.connector_class("outbox") is OutboxConnector
    outbox = registry.build("outbox", {}, ConnectorContext("crm", tmp_path))
    assert isinstance(outbox, OutboxConnector)


def test_registry_rejects_an_unknown_connector() -> None:
    with pytest.raises(registry.UnknownConnector, match="'nope'"):
        registry.connector_class("nope")
    assert issubclass(registry.UnknownConnector, LookupError)
