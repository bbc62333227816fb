"""Chat ingest as a real process on a real broker: signed Slack and Teams requests over
HTTP land on signals.raw once; a replayed Slack request is refused."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from schemas import topics
from services.common.broker import free_port
from tests.support.kafka import json_field, json_value, records_until_now, wait_for_records
from tests.support.services import Services, service_env

pytestmark = pytest.mark.integration

SLACK_SECRET = "integration-slack-signing-secret-0123"
TEAMS_TOKEN = base64.b64encode(os.urandom(32)).decode()
WEBHOOK_SECRET = "integration-chat-webhook-secret-0123"
TEAM, USER = "T0INTEGR8", "U0REPORTR"


@pytest.fixture(scope="module")
def ingest(kafka: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    var_dir: Path = tmp_path_factory.mktemp("chat")
    services = Services(
        service_env(
            kafka,
            var_dir,
            {
                "ANTENNA_SLACK_SIGNING_SECRET": SLACK_SECRET,
                "ANTENNA_SLACK_BOT_USER_ID": "U0ANTENNA",
                "ANTENNA_TEAMS_HMAC_SECRET": TEAMS_TOKEN,
                "ANTENNA_CHAT_WEBHOOK_SECRET": WEBHOOK_SECRET,
                # The ingest process also listens for SMTP: never on a fixed, shared port.
                "ANTENNA_SMTP_PORT": str(free_port()),
            },
        ),
        var_dir,
    )
    services.start("ingest")
    yield services
    services.stop()
    log = services.log("ingest")
    if log.exists():
        print("--- ingest log tail ---\n" + "\n".join(log.read_text().splitlines()[-15:]))


def _slack_post(
    ingest: Services,
    body: bytes,
    timestamp: int | None = None,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    ts = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(SLACK_SECRET.encode(), f"v0:{ts}:".encode() + body, hashlib.sha256)
    return httpx.post(
        f"{ingest.api}/v1/chat/slack",
        content=body,
        headers={
            "Content-Type": "application/json",
            "X-Slack-Request-Timestamp": ts,
            "X-Slack-Signature": "v0=" + digest.hexdigest(),
            **(headers or {}),
        },
        timeout=30,
    )


def _slack_event(event_id: str, text: str) -> bytes:
    return json.dumps(
        {
            "token": "unused",
            "team_id": TEAM,
            "api_app_id": "A0APP",
            "type": "event_callback",
            "event_id": event_id,
            "event_time": int(time.time()),
            "event": {
                "type": "app_mention",
                "user": USER,
                "text": f"<@U0ANTENNA> {text}",
                "ts": f"{time.time():.6f}",
                "channel": "C0SIGNALS",
                "event_ts": f"{time.time():.6f}",
            },
        }
    ).encode()


def _records_with_key(bootstrap: str, idempotency_key: str) -> list[dict[str, Any]]:
    """Every signal on signals.raw (up to its current end) with this idempotency key.
    Other tests put poison there: decoded defensively."""
    records = records_until_now(
        bootstrap, topics.RAW, lambda r: json_field(r, "idempotency_key") == idempotency_key
    )
    return [value for r in records if (value := json_value(r)) is not None]


def test_signed_slack_event_lands_once_even_when_retried(kafka: str, ingest: Services) -> None:
    event_id = f"Ev{uuid.uuid4().hex[:10].upper()}"
    body = _slack_event(event_id, "De klant belde: haar pinpas is geblokkeerd.")
    first = _slack_post(ingest, body)
    assert first.status_code == 200, first.text
    signal_id = first.json()["signal_id"]

    [record] = wait_for_records(
        kafka, topics.RAW, lambda r: json_field(r, "signal_id") == signal_id
    )
    signal = json.loads(record.value)
    assert signal["channel"] == "chat"
    assert signal["source"] == "slack"
    assert signal["text"] == "De klant belde: haar pinpas is geblokkeerd."
    assert signal["reporter"]["employee_id"] == f"slack:{TEAM}:{USER}"
    assert signal["metadata"]["slack_event_id"] == event_id

    # Slack retries with the same event_id (signed again, with a fresh timestamp).
    retry = _slack_post(
        ingest, body, headers={"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"}
    )
    again = _slack_post(ingest, body)  # and a redelivery without the header
    assert retry.status_code == again.status_code == 200
    assert retry.json()["signal_id"] == again.json()["signal_id"] == signal_id
    assert [s["signal_id"] for s in _records_with_key(kafka, f"{TEAM}:{event_id}")] == [signal_id]


def test_replayed_slack_request_is_401_and_not_published(kafka: str, ingest: Services) -> None:
    event_id = f"Ev{uuid.uuid4().hex[:10].upper()}"
    body = _slack_event(event_id, "Oude melding die iemand opnieuw afspeelt.")
    replayed = _slack_post(ingest, body, timestamp=int(time.time()) - 600)
    assert replayed.status_code == 401
    assert replayed.headers["content-type"].startswith("application/problem+json")
    assert _records_with_key(kafka, f"{TEAM}:{event_id}") == []


def test_signed_teams_message_lands_on_signals_raw(kafka: str, ingest: Services) -> None:
    activity_id = str(int(time.time() * 1000))
    body = json.dumps(
        {
            "type": "message",
            "id": activity_id,
            "timestamp": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
            "channelId": "msteams",
            "from": {
                "id": "29:1abc",
                "name": "Sanne",
                "aadObjectId": "5e6f7a8b-0000-4000-8000-1234",
            },
            "conversation": {"id": "19:abc@thread.skype;messageid=" + activity_id},
            "text": "<at>Antenna</at> The customer wants an offer and a call tomorrow.",
            "channelData": {"tenant": {"id": "72f988bf-0000-4000-8000-000000000000"}},
        }
    ).encode()
    digest = hmac.new(base64.b64decode(TEAMS_TOKEN), body, hashlib.sha256).digest()
    response = httpx.post(
        f"{ingest.api}/v1/chat/teams",
        content=body,
        headers={
            "Content-Type": "application/json; charset=utf-8",
            "Authorization": "HMAC " + base64.b64encode(digest).decode(),
        },
        timeout=30,
    )
    assert response.status_code == 200, response.text
    reply = response.json()
    assert reply["type"] == "message"
    [record] = wait_for_records(
        kafka, topics.RAW, lambda r: json_field(r, "idempotency_key") == activity_id
    )
    signal = json.loads(record.value)
    assert signal["signal_id"] in reply["text"]
    assert signal["source"] == "teams"
    assert signal["text"] == "The customer wants an offer and a call tomorrow."
    assert signal["reporter"] == {
        "employee_id": "teams:5e6f7a8b-0000-4000-8000-1234",
        "name": "Sanne",
        "email": None,
        "department": None,
    }


def test_signed_chat_webhook_lands_on_signals_raw(kafka: str, ingest: Services) -> None:
    message_id = f"msg-{uuid.uuid4().hex}"
    body = json.dumps(
        {"text": "Her card was declined again.", "user": {"id": "emp-9"}, "message_id": message_id}
    ).encode()
    ts = int(time.time())
    digest = hmac.new(WEBHOOK_SECRET.encode(), f"{ts}.".encode() + body, hashlib.sha256)
    response = httpx.post(
        f"{ingest.api}/v1/chat/webhook",
        content=body,
        headers={
            "Content-Type": "application/json",
            "X-Antenna-Timestamp": str(ts),
            "X-Antenna-Signature": "v1=" + digest.hexdigest(),
        },
        timeout=30,
    )
    assert response.status_code == 202, response.text
    signal_id = response.json()["signal_id"]
    wait_for_records(kafka, topics.RAW, lambda r: json_field(r, "signal_id") == signal_id)
