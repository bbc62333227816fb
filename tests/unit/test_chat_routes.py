"""The chat routes (Slack, Teams, generic webhook) through FastAPI's TestClient, with a
fake publisher at the Kafka edge and requests signed here the way each platform signs."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import logging
import time
import urllib.parse
import warnings
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from prometheus_client import REGISTRY
from pydantic import ValidationError

from schemas import Channel, Signal, signal_id_for
from services.common.kafka import BrokerUnavailable
from services.ingest.api.routes import chat as chat_routes
from services.ingest.app import create_app
from services.ingest.chat import slack
from services.ingest.settings import IngestSettings

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

API_KEY = "test-api-key-0123456789"
SLACK_SECRET = "slack-signing-secret-0123456789abcdef"
BOT_USER = "UBOT0001"
TEAMS_KEY = bytes(range(7, 39))
TEAMS_TOKEN = base64.b64encode(TEAMS_KEY).decode()
WEBHOOK_SECRET = "chat-webhook-secret-0123456789"
MAX_BODY = 16_384
PROBLEM = "application/problem+json"

TEAM, USER, CHANNEL = "T0PQR123", "U0ABC456", "C0XYZ789"
NL_TEXT = "De klant belde: haar pinpas is vandaag twee keer geweigerd."
EN_TEXT = "The customer says her bank card was declined twice today."


class FakePublisher:
    """Like KafkaSignalPublisher, the send runs in a worker thread: once started it cannot
    be called back by cancelling the coroutine that waits for it."""

    def __init__(self) -> None:
        self.published: list[Signal] = []
        self.unavailable = False
        self.delay_s = 0.0
        self.closed = False

    def _send(self, signal: Signal) -> None:
        time.sleep(self.delay_s)
        if self.unavailable:
            raise BrokerUnavailable("broker did not acknowledge: KafkaTimeoutError")
        self.published.append(signal)

    async def publish(self, signal: Signal) -> None:
        await asyncio.to_thread(self._send, signal)

    async def ready(self) -> bool:
        return True

    def close(self) -> None:
        self.closed = True


def _settings(**overrides: Any) -> IngestSettings:
    values: dict[str, Any] = {
        "api_keys": [API_KEY],
        "max_body_bytes": MAX_BODY,
        "slack_signing_secret": SLACK_SECRET,
        "slack_bot_user_id": BOT_USER,
        "teams_hmac_secret": TEAMS_TOKEN,
        "chat_webhook_secret": WEBHOOK_SECRET,
    }
    values.update(overrides)
    return IngestSettings(**values)


@pytest.fixture
def publisher() -> FakePublisher:
    return FakePublisher()


@pytest.fixture
def client(publisher: FakePublisher) -> Iterator[TestClient]:
    with TestClient(create_app(_settings(), publisher=publisher)) as test_client:
        yield test_client


def _problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    return body


# --- Slack helpers: signed exactly as Slack signs (v0, hex HMAC-SHA256) ---------------------


def slack_headers(
    body: bytes,
    content_type: str = "application/json",
    timestamp: int | None = None,
    secret: str = SLACK_SECRET,
) -> dict[str, str]:
    ts = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(secret.encode(), f"v0:{ts}:".encode() + body, hashlib.sha256).hexdigest()
    return {
        "Content-Type": content_type,
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": f"v0={digest}",
    }


def slack_event(
    text: str = NL_TEXT, event_id: str = "Ev0001AAAA", kind: str = "message", **event: Any
) -> dict[str, Any]:
    inner: dict[str, Any] = {
        "type": kind,
        "user": USER,
        "text": text,
        "ts": "1741944600.000100",
        "channel": CHANNEL,
        "channel_type": "im" if kind == "message" else "channel",
        "event_ts": "1741944600.000100",
    }
    inner.update(event)
    return {
        "token": "deprecated-verification-token",
        "team_id": TEAM,
        "api_app_id": "A0APP",
        "event": inner,
        "type": "event_callback",
        "event_id": event_id,
        "event_time": 1741944600,
        "authorizations": [
            {"enterprise_id": None, "team_id": TEAM, "user_id": BOT_USER, "is_bot": True}
        ],
    }


def _event_with_text_list() -> bytes:
    payload = slack_event()
    payload["event"]["text"] = ["not", "a", "string"]
    return json.dumps(payload).encode()


def post_slack(client: TestClient, payload: dict[str, Any] | bytes, **headers: str) -> Any:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return client.post("/v1/chat/slack", content=body, headers={**slack_headers(body), **headers})


def slash_form(text: str = NL_TEXT, trigger_id: str = "398738663015.47445629121.ab12") -> bytes:
    return urllib.parse.urlencode(
        {
            "token": "deprecated-verification-token",
            "team_id": TEAM,
            "team_domain": "bank",
            "channel_id": CHANNEL,
            "channel_name": "directmessage",
            "user_id": USER,
            "user_name": "sanne.devries",
            "command": "/antenna",
            "text": text,
            "api_app_id": "A0APP",
            "response_url": "https://hooks.slack.com/commands/T0PQR123/1/secretpath",
            "trigger_id": trigger_id,
        }
    ).encode()


def post_slash(client: TestClient, body: bytes) -> Any:
    return client.post(
        "/v1/chat/slack",
        content=body,
        headers=slack_headers(body, "application/x-www-form-urlencoded"),
    )


# --- Slack Events API -----------------------------------------------------------------------


def test_slack_url_verification_echoes_the_challenge(
    client: TestClient, publisher: FakePublisher
) -> None:
    payload = {
        "token": "t",
        "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmd",
        "type": "url_verification",
    }
    response = post_slack(client, payload)
    assert response.status_code == 200
    assert response.json() == {"challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmd"}
    assert publisher.published == []


def test_slack_url_verification_must_be_signed(client: TestClient) -> None:
    body = json.dumps({"challenge": "abc", "type": "url_verification"}).encode()
    response = client.post(
        "/v1/chat/slack", content=body, headers={"Content-Type": "application/json"}
    )
    _problem(response, 401)


def test_slack_message_event_becomes_one_signal(
    client: TestClient, publisher: FakePublisher
) -> None:
    response = post_slack(client, slack_event())
    assert response.status_code == 200
    signal_id = response.json()["signal_id"]
    [signal] = publisher.published
    assert signal.signal_id == signal_id
    assert signal.channel is Channel.chat
    assert signal.source == "slack"
    assert signal.text == NL_TEXT
    assert signal.reporter.employee_id == f"slack:{TEAM}:{USER}"
    assert signal.idempotency_key == f"{TEAM}:Ev0001AAAA"
    assert signal.metadata["platform"] == "slack"
    assert signal.metadata["slack_team_id"] == TEAM
    assert signal.metadata["slack_channel_id"] == CHANNEL
    assert signal.metadata["slack_event_id"] == "Ev0001AAAA"
    assert "token" not in json.dumps(signal.metadata)


def test_slack_app_mention_strips_the_mention(client: TestClient, publisher: FakePublisher) -> None:
    event = slack_event(f"<@{BOT_USER}> {EN_TEXT}", kind="app_mention")
    assert post_slack(client, event).status_code == 200
    [signal] = publisher.published
    assert signal.text == EN_TEXT
    assert signal.metadata["slack_event_type"] == "app_mention"


def test_slack_app_mention_without_a_configured_bot_user(publisher: FakePublisher) -> None:
    settings = _settings(slack_bot_user_id=None)
    with TestClient(create_app(settings, publisher=publisher)) as client:
        event = slack_event(f"<@UOTHERBOT|antenna>  {EN_TEXT}", kind="app_mention")
        event["authorizations"] = []
        assert post_slack(client, event).status_code == 200
    [signal] = publisher.published
    assert signal.text == EN_TEXT


def test_slack_markup_becomes_plain_text() -> None:
    raw = (
        f"<@{BOT_USER}> <@U0JAN|jan> zegt &lt;dringend&gt; &amp; zie <https://bank.nl/x|de site> "
        "in <#C0GEN|algemeen>, <!here> <mailto:jan@example.nl|jan@example.nl>"
    )
    text = slack.plain_text(raw, frozenset({BOT_USER}), strip_leading_mention=False)
    assert text == (
        "@jan zegt <dringend> & zie de site (https://bank.nl/x) in #algemeen, @here jan@example.nl"
    )


@pytest.mark.parametrize(
    ("event", "reason"),
    [
        (slack_event(bot_id="B0BOT", subtype="bot_message"), "bot"),
        (slack_event(bot_id="B0BOT"), "bot"),
        (slack_event(subtype="bot_message", user=None), "bot"),
        (slack_event(user=BOT_USER), "own_bot"),
        (slack_event(subtype="message_changed", message={"text": "edited"}), "edit"),
        (slack_event(subtype="message_deleted", deleted_ts="1.2"), "edit"),
        (slack_event(subtype="channel_join", text="<@U0ABC456> has joined"), "subtype"),
        (slack_event(f"<@{BOT_USER}>   ", kind="app_mention"), "empty"),
        (slack_event(kind="reaction_added", reaction="thumbsup", item={"ts": "1"}), "event_type"),
        (slack_event(kind="team_join", user={"id": "U1", "name": "x"}), "event_type"),
    ],
)
def test_slack_events_that_are_not_reports_are_ignored(
    client: TestClient, publisher: FakePublisher, event: dict[str, Any], reason: str
) -> None:
    response = post_slack(client, event)
    assert response.status_code == 200
    assert response.json() == {"ok": True, "ignored": reason}
    assert publisher.published == []


def test_slack_own_bot_is_recognised_from_the_authorizations(publisher: FakePublisher) -> None:
    with TestClient(create_app(_settings(slack_bot_user_id=None), publisher=publisher)) as client:
        response = post_slack(client, slack_event(user=BOT_USER))
    assert response.json() == {"ok": True, "ignored": "own_bot"}
    assert publisher.published == []


def test_slack_retry_of_an_accepted_event_publishes_nothing_new(
    client: TestClient, publisher: FakePublisher
) -> None:
    first = post_slack(client, slack_event())
    retry = post_slack(
        client, slack_event(), **{"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"}
    )
    assert (first.status_code, retry.status_code) == (200, 200)
    assert retry.json()["signal_id"] == first.json()["signal_id"]
    assert len(publisher.published) == 1


def test_slack_redelivery_without_the_retry_header_is_still_one_signal(
    client: TestClient, publisher: FakePublisher
) -> None:
    first = post_slack(client, slack_event())
    again = post_slack(client, slack_event())  # e.g. a proxy re-sent it
    assert again.json()["signal_id"] == first.json()["signal_id"]
    assert len(publisher.published) == 1


def test_slack_other_events_are_other_signals(client: TestClient, publisher: FakePublisher) -> None:
    post_slack(client, slack_event(event_id="Ev0001AAAA"))
    post_slack(client, slack_event(event_id="Ev0002BBBB"))
    assert len({s.signal_id for s in publisher.published}) == 2


def test_slack_broker_down_is_503_and_the_retry_publishes_once(
    client: TestClient, publisher: FakePublisher
) -> None:
    publisher.unavailable = True
    refused = post_slack(client, slack_event())
    assert _problem(refused, 503)["title"] == "Broker unavailable"
    assert int(refused.headers["retry-after"]) > 0
    assert publisher.published == []
    publisher.unavailable = False
    retry = post_slack(client, slack_event(), **{"X-Slack-Retry-Num": "1"})
    assert retry.status_code == 200
    assert [s.signal_id for s in publisher.published] == [retry.json()["signal_id"]]


def test_slack_slow_broker_is_503_within_the_budget_and_never_two_signals(
    client: TestClient, publisher: FakePublisher, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(chat_routes, "SLACK_ACK_BUDGET_S", 0.25)
    publisher.delay_s = 1.5  # the broker acks, but only after Slack's deadline
    started = time.monotonic()
    slow = post_slack(client, slack_event())
    assert time.monotonic() - started < 1.0  # answered before the broker acked
    _problem(slow, 503)
    # Slack retries at once, while the first publish is still in flight: it waits for
    # that publish instead of starting a second one.
    early_retry = post_slack(client, slack_event(), **{"X-Slack-Retry-Num": "1"})
    _problem(early_retry, 503)
    assert publisher.published == []  # nothing acknowledged yet: no success was claimed
    deadline = time.monotonic() + 10
    while not publisher.published and time.monotonic() < deadline:
        time.sleep(0.05)
    publisher.delay_s = 0.0
    late_retry = post_slack(client, slack_event(), **{"X-Slack-Retry-Num": "2"})
    assert late_retry.status_code == 200
    assert [s.signal_id for s in publisher.published] == [late_retry.json()["signal_id"]]


def test_slack_signature_problems_are_401(client: TestClient, publisher: FakePublisher) -> None:
    body = json.dumps(slack_event()).encode()
    good = slack_headers(body)
    cases = [
        {"Content-Type": "application/json"},
        {**good, "X-Slack-Signature": "v0=" + "0" * 64},
        slack_headers(body, secret="another-signing-secret-0000000"),
        slack_headers(body, timestamp=int(time.time()) - 400),  # a replay
        slack_headers(body, timestamp=int(time.time()) + 400),
    ]
    for headers in cases:
        _problem(client.post("/v1/chat/slack", content=body, headers=headers), 401)
    tampered = body.replace(b"pinpas", b"creditcard")
    _problem(client.post("/v1/chat/slack", content=tampered, headers=good), 401)
    assert publisher.published == []


def test_slack_replayed_request_is_401_even_for_a_new_process(publisher: FakePublisher) -> None:
    """An old, genuinely signed request: the timestamp, not the cache, refuses it."""
    body = json.dumps(slack_event(event_id="Ev0OLD")).encode()
    headers = slack_headers(body, timestamp=int(time.time()) - 3600)
    with TestClient(create_app(_settings(), publisher=publisher)) as client:
        response = client.post("/v1/chat/slack", content=body, headers=headers)
    assert "five minutes" in _problem(response, 401)["detail"]
    assert publisher.published == []


@pytest.mark.parametrize(
    ("body", "content_type", "status"),
    [
        (b"text=hello", "text/plain", 415),
        (b'{"type": ', "application/json", 422),
        (b"[1, 2, 3]", "application/json", 422),
        (b"\xff\xfe not utf-8", "application/json", 422),
        (b"[" * 5000 + b"]" * 5000, "application/json", 422),
        (json.dumps({"type": "event_callback", "team_id": TEAM}).encode(), "application/json", 422),
        (
            _event_with_text_list(),
            "application/json",
            422,
        ),
        (b"command=%2Fantenna&text=%ff", "application/x-www-form-urlencoded", 422),
        (b"command=%2Fantenna&&text", "application/x-www-form-urlencoded", 422),
        (b"command=%2Fantenna&text=hallo", "application/x-www-form-urlencoded", 422),
    ],
)
def test_slack_wrong_media_type_or_malformed_payload(
    client: TestClient, publisher: FakePublisher, body: bytes, content_type: str, status: int
) -> None:
    response = client.post(
        "/v1/chat/slack", content=body, headers=slack_headers(body, content_type)
    )
    _problem(response, status)
    assert publisher.published == []


def test_slack_body_over_the_limit_is_413(client: TestClient, publisher: FakePublisher) -> None:
    response = post_slack(client, slack_event(text="x" * (MAX_BODY + 1)))
    _problem(response, 413)
    assert publisher.published == []


# --- Slack slash commands ---------------------------------------------------------------------


def test_slash_command_replies_ephemerally_with_the_signal_id(
    client: TestClient, publisher: FakePublisher
) -> None:
    response = post_slash(client, slash_form(NL_TEXT))
    assert response.status_code == 200
    reply = response.json()
    [signal] = publisher.published
    assert reply["response_type"] == "ephemeral"
    assert signal.signal_id in reply["text"]
    assert reply["text"].startswith("Bedankt")
    assert signal.text == NL_TEXT
    assert signal.reporter.employee_id == f"slack:{TEAM}:{USER}"
    assert signal.reporter.name == "sanne.devries"
    assert signal.idempotency_key == f"{TEAM}:398738663015.47445629121.ab12"
    assert signal.metadata["slack_command"] == "/antenna"
    assert "hooks.slack.com" not in json.dumps(signal.model_dump(mode="json"))


def test_slash_command_in_english_gets_an_english_reply(
    client: TestClient, publisher: FakePublisher
) -> None:
    reply = post_slash(client, slash_form(EN_TEXT)).json()
    assert reply["text"].startswith("Thanks")
    assert publisher.published[0].signal_id in reply["text"]


def test_slash_command_sent_twice_is_one_signal(
    client: TestClient, publisher: FakePublisher
) -> None:
    first = post_slash(client, slash_form())
    again = post_slash(client, slash_form())
    assert len(publisher.published) == 1
    assert publisher.published[0].signal_id in again.json()["text"]
    assert first.json() == again.json()


def test_empty_slash_command_explains_itself(client: TestClient, publisher: FakePublisher) -> None:
    reply = post_slash(client, slash_form("   ")).json()
    assert reply["response_type"] == "ephemeral"
    assert "/antenna" in reply["text"]
    assert publisher.published == []


def test_slash_command_with_the_broker_down_is_503(
    client: TestClient, publisher: FakePublisher
) -> None:
    publisher.unavailable = True
    _problem(post_slash(client, slash_form()), 503)
    assert publisher.published == []


# --- Microsoft Teams ---------------------------------------------------------------------------


def teams_activity(text: str = f"<at>Antenna</at> {NL_TEXT}", **overrides: Any) -> dict[str, Any]:
    activity: dict[str, Any] = {
        "type": "message",
        "id": "1485983408511",
        "timestamp": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        "serviceUrl": "https://smba.trafficmanager.net/emea/",
        "channelId": "msteams",
        "from": {
            "id": "29:1XJKJMvc5GBtc2JwZq0oj8tHZmzrQgFmB39ATiQWA85gQtHieVkKilBZ9XHoq9j7Zaqt7CZ",
            "name": "Sanne de Vries",
            "aadObjectId": "3f4a2b9e-1c5d-4e6f-8a7b-9c0d1e2f3a4b",
        },
        "conversation": {
            "isGroup": True,
            "conversationType": "channel",
            "id": "19:253b1f341670408fb6fcb8a7b5d6bc3e@thread.skype;messageid=1485983408511",
        },
        "recipient": None,
        "textFormat": "plain",
        "text": text,
        "entities": [{"type": "clientInfo", "locale": "nl-NL", "country": "NL"}],
        "channelData": {
            "teamsChannelId": "19:253b1f341670408fb6fcb8a7b5d6bc3e@thread.skype",
            "channel": {"id": "19:253b1f341670408fb6fcb8a7b5d6bc3e@thread.skype"},
            "team": {"id": "19:0a1b2c3d4e5f@thread.skype"},
            "tenant": {"id": "72f988bf-86f1-41af-91ab-2d7cd011db47"},
        },
    }
    activity.update(overrides)
    return activity


def teams_headers(body: bytes, token: str = TEAMS_TOKEN) -> dict[str, str]:
    digest = hmac.new(base64.b64decode(token), body, hashlib.sha256).digest()
    return {
        "Content-Type": "application/json; charset=utf-8",
        "Authorization": "HMAC " + base64.b64encode(digest).decode(),
    }


def post_teams(client: TestClient, activity: dict[str, Any], **headers: str) -> Any:
    body = json.dumps(activity).encode()
    return client.post("/v1/chat/teams", content=body, headers={**teams_headers(body), **headers})


def test_teams_message_is_accepted_and_answered_with_the_id(
    client: TestClient, publisher: FakePublisher
) -> None:
    response = post_teams(client, teams_activity())
    assert response.status_code == 200
    reply = response.json()
    [signal] = publisher.published
    assert reply["type"] == "message"
    assert signal.signal_id in reply["text"]
    assert reply["text"].startswith("Bedankt")
    assert signal.text == NL_TEXT
    assert signal.source == "teams"
    assert signal.reporter.employee_id == "teams:3f4a2b9e-1c5d-4e6f-8a7b-9c0d1e2f3a4b"
    assert signal.reporter.name == "Sanne de Vries"
    assert signal.idempotency_key == "1485983408511"
    assert signal.metadata["platform"] == "teams"
    assert signal.metadata["teams_tenant_id"] == "72f988bf-86f1-41af-91ab-2d7cd011db47"
    assert signal.metadata["teams_team_id"] == "19:0a1b2c3d4e5f@thread.skype"


def test_teams_html_and_other_mentions(client: TestClient, publisher: FakePublisher) -> None:
    text = (
        "<div><at>Antenna</at>&nbsp;<at>Jan</at> hoorde: klant &amp; partner willen"
        "<br>een offerte</div>"
    )
    entities = [
        {
            "type": "mention",
            "text": "<at>Antenna</at>",
            "mentioned": {"id": "28:bot", "name": "Antenna"},
        },
        {"type": "mention", "text": "<at>Jan</at>", "mentioned": {"id": "29:jan", "name": "Jan"}},
    ]
    activity = teams_activity(
        text, entities=entities, recipient={"id": "28:bot", "name": "Antenna"}
    )
    assert post_teams(client, activity).status_code == 200
    assert publisher.published[0].text == "@Jan hoorde: klant & partner willen\neen offerte"


def test_teams_without_aad_object_id_uses_from_id(
    client: TestClient, publisher: FakePublisher
) -> None:
    activity = teams_activity()
    del activity["from"]["aadObjectId"]
    assert post_teams(client, activity).status_code == 200
    assert publisher.published[0].reporter.employee_id == "teams:" + activity["from"]["id"]


def test_teams_bad_or_missing_hmac_is_401(client: TestClient, publisher: FakePublisher) -> None:
    body = json.dumps(teams_activity()).encode()
    other = base64.b64encode(b"another-teams-security-token-00").decode()
    keyed_with_text = hmac.new(TEAMS_TOKEN.encode(), body, hashlib.sha256).digest()
    for headers in (
        {"Content-Type": "application/json"},
        teams_headers(body, token=other),
        {
            "Content-Type": "application/json",
            "Authorization": "HMAC " + base64.b64encode(keyed_with_text).decode(),
        },
        {"Content-Type": "application/json", "Authorization": "Bearer abc"},
    ):
        _problem(client.post("/v1/chat/teams", content=body, headers=headers), 401)
    tampered = body.replace(b"pinpas", b"hypotheek")
    _problem(client.post("/v1/chat/teams", content=tampered, headers=teams_headers(body)), 401)
    assert publisher.published == []


def test_teams_replayed_activity_is_401(client: TestClient, publisher: FakePublisher) -> None:
    old = (datetime.now(UTC) - timedelta(minutes=10)).isoformat().replace("+00:00", "Z")
    _problem(post_teams(client, teams_activity(timestamp=old)), 401)
    assert publisher.published == []


def test_teams_activity_without_timestamp_is_401(
    client: TestClient, publisher: FakePublisher
) -> None:
    activity = teams_activity()
    del activity["timestamp"]  # signed, but replayable forever
    _problem(post_teams(client, activity), 401)
    assert publisher.published == []


def test_teams_same_activity_twice_is_one_signal(
    client: TestClient, publisher: FakePublisher
) -> None:
    first = post_teams(client, teams_activity())
    again = post_teams(client, teams_activity())
    assert first.json() == again.json()
    assert len(publisher.published) == 1


def test_teams_bare_mention_gets_help_and_no_signal(
    client: TestClient, publisher: FakePublisher
) -> None:
    response = post_teams(client, teams_activity("<at>Antenna</at>&nbsp;"))
    assert response.status_code == 200
    assert response.json()["type"] == "message"
    assert "Antenna" in response.json()["text"]
    assert publisher.published == []


@pytest.mark.parametrize(
    ("body", "content_type", "status"),
    [
        (b"type=message", "application/x-www-form-urlencoded", 415),
        (b'{"type": "message", ', "application/json", 422),
        ({"type": "message", "text": "hoi", "id": "1"}, "application/json", 422),
        ({"type": "message", "text": "hoi", "from": {"id": "29:1"}}, "application/json", 422),
    ],
)
def test_teams_wrong_media_type_or_malformed_activity(
    client: TestClient,
    publisher: FakePublisher,
    body: bytes | dict[str, Any],
    content_type: str,
    status: int,
) -> None:
    if isinstance(body, dict):  # dated now: only what the case names is wrong
        now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
        body = json.dumps({**body, "timestamp": now}).encode()
    headers = {**teams_headers(body), "Content-Type": content_type}
    _problem(client.post("/v1/chat/teams", content=body, headers=headers), status)
    assert publisher.published == []


def test_teams_with_the_broker_down_is_503(client: TestClient, publisher: FakePublisher) -> None:
    publisher.unavailable = True
    _problem(post_teams(client, teams_activity()), 503)
    assert publisher.published == []


def test_a_teams_token_that_is_not_base64_is_refused_at_start_up() -> None:
    with pytest.raises(ValidationError, match="base64"):
        _settings(teams_hmac_secret="not a base64 token!")


# --- the generic chat webhook ------------------------------------------------------------------


def webhook_message(**overrides: Any) -> dict[str, Any]:
    message: dict[str, Any] = {
        "text": EN_TEXT,
        "user": {"id": "emp-4711", "name": "Sanne de Vries", "email": "sanne@bank.example"},
        "message_id": "msg-0001",
        "channel": "signals",
    }
    message.update(overrides)
    return message


def webhook_headers(
    body: bytes, timestamp: int | None = None, secret: str = WEBHOOK_SECRET
) -> dict[str, str]:
    ts = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{ts}.".encode() + body, hashlib.sha256).hexdigest()
    return {
        "Content-Type": "application/json",
        "X-Antenna-Timestamp": str(ts),
        "X-Antenna-Signature": f"v1={digest}",
    }


def post_webhook(client: TestClient, message: dict[str, Any], **headers: str) -> Any:
    body = json.dumps(message).encode()
    return client.post(
        "/v1/chat/webhook", content=body, headers={**webhook_headers(body), **headers}
    )


def test_webhook_message_is_202_with_the_signal_id(
    client: TestClient, publisher: FakePublisher
) -> None:
    response = post_webhook(client, webhook_message())
    assert response.status_code == 202
    [signal] = publisher.published
    assert response.json() == {"signal_id": signal.signal_id}
    assert signal.text == EN_TEXT
    assert signal.source == "chat-webhook"
    assert signal.reporter.employee_id == "webhook:emp-4711"
    assert signal.reporter.email == "sanne@bank.example"
    assert signal.idempotency_key == "msg-0001"
    assert signal.metadata["webhook_channel"] == "signals"


def test_webhook_replays_of_one_signed_body_are_one_signal_whatever_the_header(
    client: TestClient, publisher: FakePublisher
) -> None:
    # The Idempotency-Key header is not signed: a replayer may set it to anything.
    answers = {
        post_webhook(client, webhook_message(), **{"Idempotency-Key": f"replay-{n}"}).json()[
            "signal_id"
        ]
        for n in range(3)
    }
    assert answers == {signal_id_for("chat-webhook", "msg-0001")}
    assert [s.idempotency_key for s in publisher.published] == ["msg-0001"]


def test_webhook_bad_or_stale_signature_is_401(
    client: TestClient, publisher: FakePublisher
) -> None:
    body = json.dumps(webhook_message()).encode()
    for headers in (
        {"Content-Type": "application/json"},
        webhook_headers(body, secret="another-webhook-secret-000000"),
        webhook_headers(body, timestamp=int(time.time()) - 400),
        webhook_headers(body, timestamp=int(time.time()) + 400),
    ):
        _problem(client.post("/v1/chat/webhook", content=body, headers=headers), 401)
    tampered = body.replace(b"emp-4711", b"emp-0001")
    _problem(client.post("/v1/chat/webhook", content=tampered, headers=webhook_headers(body)), 401)
    assert publisher.published == []


@pytest.mark.parametrize(
    "message",
    [
        webhook_message(text="   "),
        webhook_message(user=None),
        webhook_message(message_id=""),
        webhook_message(user={"id": "emp-1", "email": "not-an-email"}),
    ],
)
def test_webhook_invalid_message_is_422(
    client: TestClient, publisher: FakePublisher, message: dict[str, Any]
) -> None:
    _problem(post_webhook(client, message), 422)
    assert publisher.published == []


def test_webhook_same_key_with_other_content_is_422(
    client: TestClient, publisher: FakePublisher
) -> None:
    assert post_webhook(client, webhook_message()).status_code == 202
    response = post_webhook(client, webhook_message(text="Something else entirely"))
    assert "Idempotency-Key" in _problem(response, 422)["title"]
    assert len(publisher.published) == 1


def test_webhook_with_the_broker_down_is_503(client: TestClient, publisher: FakePublisher) -> None:
    publisher.unavailable = True
    _problem(post_webhook(client, webhook_message()), 503)
    assert publisher.published == []


# --- switched off, privacy, metrics ------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "name"),
    [
        ("/v1/chat/slack", "Slack"),
        ("/v1/chat/teams", "Microsoft Teams"),
        ("/v1/chat/webhook", "The chat webhook"),
    ],
)
def test_unconfigured_channel_is_404(publisher: FakePublisher, path: str, name: str) -> None:
    settings = IngestSettings(api_keys=[API_KEY])
    with TestClient(create_app(settings, publisher=publisher)) as client:
        response = client.post(path, json={"text": "hallo"})
    assert _problem(response, 404)["title"] == f"{name} is not configured"
    assert publisher.published == []


def test_logs_carry_ids_not_names_or_texts(
    client: TestClient, publisher: FakePublisher, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    post_slack(client, slack_event())
    post_slash(client, slash_form(EN_TEXT, trigger_id="t-2"))
    post_teams(client, teams_activity())
    post_webhook(client, webhook_message())
    assert len(publisher.published) == 4
    logged = "\n".join(
        f"{record.getMessage()} {getattr(record, 'fields', '')}" for record in caplog.records
    )
    assert publisher.published[0].signal_id in logged
    for private in (NL_TEXT, EN_TEXT, "sanne", "Sanne", USER, "sanne@bank.example", "emp-4711"):
        assert private not in logged


def _chat_count(platform: str, outcome: str) -> float:
    labels = {"platform": platform, "outcome": outcome}
    return REGISTRY.get_sample_value("antenna_ingest_chat_requests_total", labels) or 0.0


def test_metrics_count_outcomes_by_platform_only(client: TestClient) -> None:
    before = _chat_count("slack", "unauthorized"), _chat_count("slack", "accepted")
    body = json.dumps(slack_event()).encode()
    client.post("/v1/chat/slack", content=body, headers={"Content-Type": "application/json"})
    post_slack(client, slack_event())
    assert _chat_count("slack", "unauthorized") == before[0] + 1
    assert _chat_count("slack", "accepted") == before[1] + 1
